import 'reflect-metadata';
import { ROLE_SERVICE_NAME } from '@batchgate/contracts/role/v1/role';
import { loadConfigOrExit } from '@batchgate/platform/config';
import { runGrpcService } from '@batchgate/platform/nest';
import { AppModule } from './app.module';
import { roleConfigSchema } from './config/role.config';

const config = loadConfigOrExit(roleConfigSchema);

void runGrpcService({
  name: 'role',
  proto: 'role',
  serviceName: ROLE_SERVICE_NAME,
  config,
  appModule: () => AppModule.register(config),
});
