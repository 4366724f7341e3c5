import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { PlatformModule, type PlatformHandles } from '@batchgate/platform/nest';
import { AuthGuard } from './auth/auth.guard';
import { JwtVerifier } from './auth/jwt-verifier';
import type { GatewayConfig } from './config/gateway.config';
import { DownstreamModule } from './downstream.module';
import { OpsHttpController } from './http/ops.http.controller';
import { KlineSyncHttpController } from './kline-sync/kline-sync.http.controller';
import { TokensHttpController } from './tokens/tokens.http.controller';

@Module({})
export class AppModule {
  static register(config: GatewayConfig, platform: PlatformHandles, verifier: JwtVerifier): DynamicModule {
    return {
      module: AppModule,
      imports: [PlatformModule.forRoot(platform), DownstreamModule.register(config)],
      controllers: [OpsHttpController, TokensHttpController, KlineSyncHttpController],
      providers: [{ provide: JwtVerifier, useValue: verifier }, { provide: APP_GUARD, useClass: AuthGuard }],
    };
  }
}
