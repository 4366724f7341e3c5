import { Module, type DynamicModule } from '@nestjs/common';
import { KLINE_SYNC_SERVICE_NAME } from '@batchgate/contracts/klinesync/v1/klinesync';
import type { GatewayConfig } from '../config/gateway.config';
import { downstreamClientProvider, GrpcChannels } from '../downstream/downstream-client';
import { KLINE_SYNC_CLIENT, KLINE_SYNC_LONG_CLIENT } from './kline-sync.client';
import { KlineSyncHttpController } from './kline-sync.http.controller';

/** The stock, K-line, sync-job and trigger routes, served by kline-sync. */
@Module({})
export class KlineSyncModule {
  static register(config: GatewayConfig): DynamicModule {
    const klineSync = { proto: 'klinesync', service: KLINE_SYNC_SERVICE_NAME, url: config.KLINE_SYNC_URL } as const;
    return {
      module: KlineSyncModule,
      controllers: [KlineSyncHttpController],
      providers: [
        GrpcChannels,
        downstreamClientProvider(KLINE_SYNC_CLIENT, { ...klineSync, deadlineMs: config.GRPC_DEADLINE_MS }),
        downstreamClientProvider(KLINE_SYNC_LONG_CLIENT, { ...klineSync, deadlineMs: config.GRPC_LONG_DEADLINE_MS }),
      ],
    };
  }
}
