import { Injectable, type FactoryProvider, type OnApplicationShutdown } from '@nestjs/common';
import { Registry } from 'prom-client';
import type { ServiceProtoName } from '@batchgate/contracts';
import { createGrpcClient, ServiceCredentials } from '@batchgate/platform/grpc';

/** Closes the gRPC channels of one downstream module's clients when the gateway stops. */
@Injectable()
export class GrpcChannels implements OnApplicationShutdown {
  private readonly closers: Array<() => void> = [];

  track(close: () => void): void {
    this.closers.push(close);
  }

  onApplicationShutdown(): void {
    for (const close of this.closers.splice(0)) close();
  }
}

export interface DownstreamClientSettings {
  proto: ServiceProtoName;
  /** The service name inside the proto package (the generated `..._SERVICE_NAME`). */
  service: string;
  url: string;
  deadlineMs: number;
}

/**
 * The provider of one gRPC client of a service behind the gateway: each call carries the gateway's
 * service credential, the request id and a deadline. The module providing it also provides
 * {@link GrpcChannels}, which closes the channel at shutdown.
 */
export function downstreamClientProvider(token: symbol, settings: DownstreamClientSettings): FactoryProvider {
  return {
    provide: token,
    inject: [GrpcChannels, Registry, ServiceCredentials],
    useFactory: (channels: GrpcChannels, registry: Registry, credentials: ServiceCredentials) => {
      const { client, close } = createGrpcClient<object>({ ...settings, registry, credentials });
      channels.track(close);
      return client;
    },
  };
}
