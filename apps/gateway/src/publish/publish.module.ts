import { Module, type DynamicModule } from '@nestjs/common';
import { PUBLISH_SERVICE_NAME } from '@batchgate/contracts/publish/v1/publish';
import type { GatewayConfig } from '../config/gateway.config';
import { downstreamClientProvider, GrpcChannels } from '../downstream/downstream-client';
import { PUBLISH_CLIENT, PUBLISH_LONG_CLIENT, PUBLISH_STREAM_CLIENT } from './publish.client';
import { TaskMonitorHttpController } from './monitor/task-monitor.http.controller';
import { PublishHttpController } from './publish.http.controller';

/** The article publishing routes (seed 003), served by publish, and the task monitor page. */
@Module({})
export class PublishModule {
  static register(config: GatewayConfig): DynamicModule {
    const publish = { proto: 'publish', service: PUBLISH_SERVICE_NAME, url: config.PUBLISH_URL } as const;
    return {
      module: PublishModule,
      controllers: [PublishHttpController, TaskMonitorHttpController],
      providers: [
        GrpcChannels,
        downstreamClientProvider(PUBLISH_CLIENT, { ...publish, deadlineMs: config.GRPC_DEADLINE_MS }),
        downstreamClientProvider(PUBLISH_LONG_CLIENT, { ...publish, deadlineMs: config.GRPC_LONG_DEADLINE_MS }),
        downstreamClientProvider(PUBLISH_STREAM_CLIENT, { ...publish, deadlineMs: config.GRPC_STREAM_DEADLINE_MS }),
      ],
    };
  }
}
