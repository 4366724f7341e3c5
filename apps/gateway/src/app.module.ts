import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { PlatformModule, type PlatformHandles } from '@batchgate/platform/nest';
import { AuthGuard } from './auth/auth.guard';
import { JwtVerifier } from './auth/jwt-verifier';
import { SlidingWindowThrottlerStorage } from './auth/sliding-window.storage';
import { UserRateLimitGuard } from './auth/user-rate-limit.guard';
import type { GatewayConfig } from './config/gateway.config';
import { EventStreamModule } from './http/event-stream';
import { OpsHttpController } from './http/ops.http.controller';
import { KlineSyncModule } from './kline-sync/kline-sync.module';
import { RoleModule } from './role/role.module';
import { OfflineModule } from './offline/offline.module';
import { PublishModule } from './publish/publish.module';
import { TokensModule } from './tokens/tokens.module';
// new-service: gateway module imports

@Module({})
export class AppModule {
  static register(config: GatewayConfig, platform: PlatformHandles, verifier: JwtVerifier): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot(platform),
        ThrottlerModule.forRoot({
          throttlers: [{ name: 'user', limit: config.USER_RATE_LIMIT, ttl: config.USER_RATE_WINDOW_MS }],
          storage: new SlidingWindowThrottlerStorage(),
        }),
        EventStreamModule.register(config),
        // One module per service behind the gateway: its gRPC client(s), routes, DTOs and mappers.
        // new-service: gateway modules
        TokensModule.register(config),
        KlineSyncModule.register(config),
        RoleModule.register(config),
        OfflineModule.register(config),
        PublishModule.register(config),
      ],
      controllers: [OpsHttpController],
      // Global guards run in this order: authenticate first, then count the caller's requests.
      providers: [
        { provide: JwtVerifier, useValue: verifier },
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_GUARD, useClass: UserRateLimitGuard },
      ],
    };
  }
}
