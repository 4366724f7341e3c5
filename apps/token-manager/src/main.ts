import 'reflect-metadata';
import { TOKEN_MANAGER_SERVICE_NAME } from '@batchgate/contracts/tokens/v1/tokens';
import { loadConfigOrExit } from '@batchgate/platform/config';
import { runGrpcService } from '@batchgate/platform/nest';
import { AppModule } from './app.module';
import { tokenManagerConfigSchema } from './config/token-manager.config';

const config = loadConfigOrExit(tokenManagerConfigSchema);

void runGrpcService({
  name: 'token-manager',
  proto: 'tokens',
  serviceName: TOKEN_MANAGER_SERVICE_NAME,
  config,
  appModule: () => AppModule.register(config),
});
