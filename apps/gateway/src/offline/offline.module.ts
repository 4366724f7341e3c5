import { Module, type DynamicModule } from '@nestjs/common';
import { OFFLINE_SERVICE_NAME } from '@batchgate/contracts/offline/v1/offline';
import type { GatewayConfig } from '../config/gateway.config';
import { downstreamClientProvider, GrpcChannels } from '../downstream/downstream-client';
import { OFFLINE_CLIENT, OFFLINE_LONG_CLIENT, OFFLINE_STREAM_CLIENT } from './offline.client';
import { OfflineHttpController } from './offline.http.controller';

/** The /api/temu/seller/offline routes (seed 000's bulk de-listing), served by offline. */
@Module({})
export class OfflineModule {
  static register(config: GatewayConfig): DynamicModule {
    const offline = { proto: 'offline', service: OFFLINE_SERVICE_NAME, url: config.OFFLINE_URL } as const;
    return {
      module: OfflineModule,
      controllers: [OfflineHttpController],
      providers: [
        GrpcChannels,
        downstreamClientProvider(OFFLINE_CLIENT, { ...offline, deadlineMs: config.GRPC_DEADLINE_MS }),
        downstreamClientProvider(OFFLINE_LONG_CLIENT, { ...offline, deadlineMs: config.GRPC_LONG_DEADLINE_MS }),
        downstreamClientProvider(OFFLINE_STREAM_CLIENT, { ...offline, deadlineMs: config.GRPC_STREAM_DEADLINE_MS }),
      ],
    };
  }
}
