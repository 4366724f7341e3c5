import { Module, type DynamicModule } from '@nestjs/common';
import { TOKEN_MANAGER_SERVICE_NAME } from '@batchgate/contracts/tokens/v1/tokens';
import type { GatewayConfig } from '../config/gateway.config';
import { downstreamClientProvider, GrpcChannels } from '../downstream/downstream-client';
import { TOKEN_MANAGER_CLIENT } from './token-manager.client';
import { TokensHttpController } from './tokens.http.controller';

/** The /api/tokens routes, served by token-manager. */
@Module({})
export class TokensModule {
  static register(config: GatewayConfig): DynamicModule {
    return {
      module: TokensModule,
      controllers: [TokensHttpController],
      providers: [
        GrpcChannels,
        downstreamClientProvider(TOKEN_MANAGER_CLIENT, {
          proto: 'tokens',
          service: TOKEN_MANAGER_SERVICE_NAME,
          url: config.TOKEN_MANAGER_URL,
          deadlineMs: config.GRPC_DEADLINE_MS,
        }),
      ],
    };
  }
}
