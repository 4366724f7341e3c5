import { Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { Registry } from 'prom-client';
import { KLINE_SYNC_SERVICE_NAME, type KlineSyncServiceClient } from '@batchgate/contracts/klinesync/v1/klinesync';
import { TOKEN_MANAGER_SERVICE_NAME, type TokenManagerServiceClient } from '@batchgate/contracts/tokens/v1/tokens';
import { createGrpcClient, ServiceCredentials, type GrpcClientSettings } from '@batchgate/platform/grpc';
import type { GatewayConfig } from './config/gateway.config';

export const TOKEN_MANAGER_CLIENT = Symbol('TOKEN_MANAGER_CLIENT');
export const KLINE_SYNC_CLIENT = Symbol('KLINE_SYNC_CLIENT');
/** kline-sync with GRPC_LONG_DEADLINE_MS, for calls that pull from the provider before answering. */
export const KLINE_SYNC_LONG_CLIENT = Symbol('KLINE_SYNC_LONG_CLIENT');

/** Creates the gateway's gRPC clients and closes their channels when the gateway stops. */
@Injectable()
class GrpcChannels implements OnApplicationShutdown {
  private readonly closers: Array<() => void> = [];

  open<T extends object>(settings: GrpcClientSettings): T {
    const { client, close } = createGrpcClient<T>(settings);
    this.closers.push(close);
    return client;
  }

  onApplicationShutdown(): void {
    for (const close of this.closers.splice(0)) close();
  }
}

/** gRPC clients of the services behind the gateway, each call with a deadline and the request id. */
@Module({})
export class DownstreamModule {
  static register(config: GatewayConfig): DynamicModule {
    return {
      module: DownstreamModule,
      providers: [
        GrpcChannels,
        {
          provide: TOKEN_MANAGER_CLIENT,
          inject: [GrpcChannels, Registry, ServiceCredentials],
          useFactory: (channels: GrpcChannels, registry: Registry, credentials: ServiceCredentials) =>
            channels.open<TokenManagerServiceClient>({
              proto: 'tokens',
              service: TOKEN_MANAGER_SERVICE_NAME,
              url: config.TOKEN_MANAGER_URL,
              deadlineMs: config.GRPC_DEADLINE_MS,
              registry,
              credentials,
            }),
        },
        ...[
          { provide: KLINE_SYNC_CLIENT, deadlineMs: config.GRPC_DEADLINE_MS },
          { provide: KLINE_SYNC_LONG_CLIENT, deadlineMs: config.GRPC_LONG_DEADLINE_MS },
        ].map(({ provide, deadlineMs }) => ({
          provide,
          inject: [GrpcChannels, Registry, ServiceCredentials],
          useFactory: (channels: GrpcChannels, registry: Registry, credentials: ServiceCredentials) =>
            channels.open<KlineSyncServiceClient>({
              proto: 'klinesync',
              service: KLINE_SYNC_SERVICE_NAME,
              url: config.KLINE_SYNC_URL,
              deadlineMs,
              registry,
              credentials,
            }),
        })),
      ],
      exports: [TOKEN_MANAGER_CLIENT, KLINE_SYNC_CLIENT, KLINE_SYNC_LONG_CLIENT],
    };
  }
}
