import { Module, type DynamicModule } from '@nestjs/common';
import { EVENT_STREAMS } from '@batchgate/contracts';
import { CreateOutboxEvent1763856000000, MessagingModule, OutboxEventEntity } from '@batchgate/platform/messaging';
import { SERVICE_CONFIG } from '@batchgate/platform/nest';
import { BinaryOwnerColumns1796300000000, PersistenceModule } from '@batchgate/platform/persistence';
import type { TokenManagerConfig } from './config/token-manager.config';
import { CreateApiToken1763856000100 } from './migrations/1763856000100-create-api-token';
import { AddApiTokenUsageDay1763856000200 } from './migrations/1763856000200-add-api-token-usage-day';
import { AddApiTokenNextCallAt1763856000300 } from './migrations/1763856000300-add-api-token-next-call-at';
import { AddApiTokenSlotHolder1763942400100 } from './migrations/1763942400100-add-api-token-slot-holder';
import { ApiTokenTenant1764979200000 } from './migrations/1764979200000-api-token-tenant';
import { ApiTokenSecretFingerprint1764979200200 } from './migrations/1764979200200-api-token-secret-fingerprint';
import { ApiTokenListIndex1796140000000 } from './migrations/1796140000000-api-token-list-index';
import { ApiTokenExpiryMilliseconds1796400000000 } from './migrations/1796400000000-api-token-expiry-milliseconds';
import { TokenManagerMetrics } from './token-manager.metrics';
import { ApiTokenEntity } from './tokens/api-token.entity';
import { SecretCipher } from './tokens/secret-cipher';
import { TokensGrpcController } from './tokens/tokens.grpc.controller';
import { TokensService } from './tokens/tokens.service';
import { QuotaCalendar } from './tokens/usage-day';

export const TOKEN_MANAGER_SCHEMA = {
  entities: [ApiTokenEntity, OutboxEventEntity],
  migrations: [
    CreateOutboxEvent1763856000000,
    CreateApiToken1763856000100,
    AddApiTokenUsageDay1763856000200,
    AddApiTokenNextCallAt1763856000300,
    AddApiTokenSlotHolder1763942400100,
    ApiTokenTenant1764979200000,
    ApiTokenSecretFingerprint1764979200200,
    ApiTokenListIndex1796140000000,
    BinaryOwnerColumns1796300000000,
    ApiTokenExpiryMilliseconds1796400000000,
  ],
};

@Module({})
export class AppModule {
  static register(config: TokenManagerConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PersistenceModule.forRoot(config, TOKEN_MANAGER_SCHEMA),
        MessagingModule.forService('token-manager', config, EVENT_STREAMS),
      ],
      controllers: [TokensGrpcController],
      providers: [
        TokensService,
        TokenManagerMetrics,
        { provide: SecretCipher, inject: [SERVICE_CONFIG], useFactory: (settings: TokenManagerConfig) => new SecretCipher(settings.TOKEN_ENCRYPTION_KEY) },
        {
          provide: QuotaCalendar,
          inject: [SERVICE_CONFIG],
          useFactory: (settings: TokenManagerConfig) => new QuotaCalendar(settings.TOKEN_QUOTA_TIME_ZONE, settings.TOKEN_QUOTA_RESET_HOUR),
        },
      ],
    };
  }
}
