import { Module, type DynamicModule } from '@nestjs/common';
import { ROLE_SERVICE_NAME } from '@batchgate/contracts/role/v1/role';
import type { GatewayConfig } from '../config/gateway.config';
import { downstreamClientProvider, GrpcChannels } from '../downstream/downstream-client';
import { ROLE_CLIENT } from './role.client';
import { RoleHttpController } from './role.http.controller';

/** The persona-task and persona routes (seed 001) served by role. */
@Module({})
export class RoleModule {
  static register(config: GatewayConfig): DynamicModule {
    return {
      module: RoleModule,
      controllers: [RoleHttpController],
      providers: [
        GrpcChannels,
        downstreamClientProvider(ROLE_CLIENT, { proto: 'role', service: ROLE_SERVICE_NAME, url: config.ROLE_URL, deadlineMs: config.GRPC_DEADLINE_MS }),
      ],
    };
  }
}
