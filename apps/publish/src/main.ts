import 'reflect-metadata';
import { PUBLISH_SERVICE_NAME } from '@batchgate/contracts/publish/v1/publish';
import { loadConfigOrExit } from '@batchgate/platform/config';
import { runGrpcService } from '@batchgate/platform/nest';
import { AppModule } from './app.module';
import { publishConfigSchema } from './config/publish.config';

const config = loadConfigOrExit(publishConfigSchema);

void runGrpcService({
  name: 'publish',
  proto: 'publish',
  serviceName: PUBLISH_SERVICE_NAME,
  config,
  appModule: () => AppModule.register(config),
});
