import 'reflect-metadata';
import { OFFLINE_SERVICE_NAME } from '@batchgate/contracts/offline/v1/offline';
import { loadConfigOrExit } from '@batchgate/platform/config';
import { runGrpcService } from '@batchgate/platform/nest';
import { AppModule } from './app.module';
import { offlineConfigSchema } from './config/offline.config';

const config = loadConfigOrExit(offlineConfigSchema);

void runGrpcService({
  name: 'offline',
  proto: 'offline',
  serviceName: OFFLINE_SERVICE_NAME,
  config,
  appModule: () => AppModule.register(config),
});
