import { Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { Readiness } from '../health';
import { LOGGER } from './tokens';

export interface PlatformHandles {
  logger: Logger;
  registry: Registry;
  readiness: Readiness;
}

/** Makes the process-wide logger, metrics registry and readiness injectable everywhere. */
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
      ],
      exports: [LOGGER, Registry, Readiness],
    };
  }
}
