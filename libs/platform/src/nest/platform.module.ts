import { Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { ServiceCredentials } from '../grpc/service-credentials';
import { Readiness } from '../health';
import { LOGGER, SERVICE_CONFIG } from './tokens';

export interface PlatformHandles {
  logger: Logger;
  registry: Registry;
  readiness: Readiness;
  /** The process's signed service credential: sent on its gRPC calls, checked on calls to it. */
  credentials: ServiceCredentials;
}

/** Makes the process-wide logger, metrics registry, readiness and service credential injectable everywhere. */
@Module({})
export class PlatformModule {
  static forRoot(handles: PlatformHandles): DynamicModule {
    return {
      module: PlatformModule,
      global: true,
      providers: [
        { provide: LOGGER, useValue: handles.logger },
        { provide: Registry, useValue: handles.registry },
        { provide: Readiness, useValue: handles.readiness },
        { provide: ServiceCredentials, useValue: handles.credentials },
      ],
      exports: [LOGGER, Registry, Readiness, ServiceCredentials],
    };
  }
}

/** Makes a service's whole validated config injectable everywhere, under SERVICE_CONFIG. */
@Module({})
export class ServiceConfigModule {
  static forRoot(config: object): DynamicModule {
    return {
      module: ServiceConfigModule,
      global: true,
      providers: [{ provide: SERVICE_CONFIG, useValue: config }],
      exports: [SERVICE_CONFIG],
    };
  }
}
