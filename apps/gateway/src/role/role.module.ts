import { Module, type DynamicModule } from '@nestjs/common';
import { ROLE_SERVICE_NAME } from '@batchgate/contracts/role/v1/role';
import type { GatewayConfig } from '../config/gateway.config';
import { downstreamClientProvider, GrpcChannels } from '../downstream/downstream-client';
import { ROLE_CLIENT, ROLE_STREAM_CLIENT } from './role.client';
import { PostsHttpController } from './posts.http.controller';
import { RoleHttpController } from './role.http.controller';

/** The persona-task and persona routes (seed 001) and batch post generation (seed 002), served by role. */
@Module({})
export class RoleModule {
  static register(config: GatewayConfig): DynamicModule {
    const role = { proto: 'role', service: ROLE_SERVICE_NAME, url: config.ROLE_URL } as const;
    return {
      module: RoleModule,
      controllers: [RoleHttpController, PostsHttpController],
      providers: [
        GrpcChannels,
        downstreamClientProvider(ROLE_CLIENT, { ...role, deadlineMs: config.GRPC_DEADLINE_MS }),
        downstreamClientProvider(ROLE_STREAM_CLIENT, { ...role, deadlineMs: config.GRPC_STREAM_DEADLINE_MS }),
      ],
    };
  }
}
