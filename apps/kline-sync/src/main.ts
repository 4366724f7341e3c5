import 'reflect-metadata';
import { KLINE_SYNC_SERVICE_NAME } from '@batchgate/contracts/klinesync/v1/klinesync';
import { loadConfigOrExit } from '@batchgate/platform/config';
import { runGrpcService } from '@batchgate/platform/nest';
import { AppModule } from './app.module';
import { klineSyncConfigSchema } from './config/kline-sync.config';

const config = loadConfigOrExit(klineSyncConfigSchema);

void runGrpcService({
  name: 'kline-sync',
  proto: 'klinesync',
  serviceName: KLINE_SYNC_SERVICE_NAME,
  config,
  appModule: () => AppModule.register(config),
});
