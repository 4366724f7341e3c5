import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { Logger } from 'pino';
import { Counter, Registry } from 'prom-client';
import { lastValueFrom } from 'rxjs';
import { QuotaExhaustedError, sleep, TokenPool, type CredentialSpec } from '@batchgate/concurrency';
import type { TokenManagerServiceClient } from '@batchgate/contracts/tokens/v1/tokens';
import { LOGGER } from '@batchgate/platform/nest';
import { prometheusConcurrencyListener } from '@batchgate/platform/observability';
import { KLINE_SYNC_CONFIG, TOKEN_MANAGER_CLIENT } from '../kline-sync.tokens';
import type { KlineSyncConfig } from '../config/kline-sync.config';

/** What a lease of the market-data token pool hands out. */
export interface MarketDataToken {
  tokenId: number;
  secret: string;
}

/**
 * This replica's pool of market-data tokens, leased from token-manager (decrypted secrets, rate
 * limits, quota left) and refreshed periodically. Each call first reserves its quota unit and
 * time slot at token-manager (one conditional UPDATE there), so replicas together never exceed a
 * token's daily limit or rate; a token the provider rejects is retired at token-manager too.
 */
@Injectable()
export class TokenSupply implements OnModuleDestroy {
  private pool: TokenPool<MarketDataToken> | undefined;
  private refreshedAt = 0;
  private refreshing: Promise<TokenPool<MarketDataToken>> | undefined;
  private readonly callsPerToken: Counter<'token_id'>;

  constructor(
    @Inject(TOKEN_MANAGER_CLIENT) private readonly tokenManager: TokenManagerServiceClient,
    @Inject(KLINE_SYNC_CONFIG) private readonly config: KlineSyncConfig,
    @Inject(Registry) private readonly registry: Registry,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    // Labelled by token id: a pool holds tens of tokens, and the seed asks for calls per token.
    this.callsPerToken = new Counter({
      name: 'kline_sync_token_calls_total',
      help: 'Provider calls reserved per market-data token',
      labelNames: ['token_id'],
      registers: [registry],
    });
  }

  /** The current pool, refreshed from token-manager when older than SYNC_TOKEN_REFRESH_MS. */
  async current(): Promise<TokenPool<MarketDataToken>> {
    if (this.pool && Date.now() - this.refreshedAt < this.config.SYNC_TOKEN_REFRESH_MS) return this.pool;
    this.refreshing ??= this.refresh().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /**
   * Reserves one call of the token at token-manager: a unit of its daily quota (a refusal marks
   * the token exhausted in the pool) and its next time slot under the rate limit, waited for here,
   * so every replica together keeps to the token's rate.
   */
  async reserveCall(tokenId: number, signal?: AbortSignal): Promise<void> {
    const answer = await lastValueFrom(this.tokenManager.reportUsage({ tokenId, count: 1 }));
    if (!answer.accepted) throw new QuotaExhaustedError(`token ${tokenId} has used its daily quota`);
    this.callsPerToken.inc({ token_id: String(tokenId) });
    if (answer.waitMs > 0) await sleep(answer.waitMs, { signal });
  }

  private async refresh(): Promise<TokenPool<MarketDataToken>> {
    const { leases } = await lastValueFrom(this.tokenManager.leaseTokens({ provider: this.config.ITICK_PROVIDER, maxTokens: 0 }));
    const credentials: CredentialSpec<MarketDataToken>[] = leases.map((lease) => ({
      id: String(lease.tokenId),
      value: { tokenId: lease.tokenId, secret: lease.secret },
      ...(lease.rateLimitPerSecond > 0 ? { rate: { limit: lease.rateLimitPerSecond, intervalMs: 1_000 } } : {}),
      ...(lease.remainingQuota >= 0 ? { quota: lease.remainingQuota } : {}),
    }));
    const pool = new TokenPool<MarketDataToken>({
      name: 'itick-tokens',
      credentials,
      maxInFlightPerCredential: this.config.SYNC_MAX_IN_FLIGHT_PER_TOKEN,
      metrics: prometheusConcurrencyListener(this.registry),
    });
    pool.on('retired', ({ id, reason, error }) => {
      const message = error instanceof Error ? error.message : reason;
      this.logger.warn({ tokenId: id, reason: message }, 'market-data token retired');
      void lastValueFrom(this.tokenManager.retireToken({ tokenId: Number(id), reason: message })).catch((e: unknown) =>
        this.logger.error({ err: e, tokenId: id }, 'could not retire token at token-manager'),
      );
    });
    this.pool = pool;
    this.refreshedAt = Date.now();
    this.logger.info({ tokens: credentials.length }, 'market-data tokens refreshed');
    return pool;
  }

  onModuleDestroy(): void {
    this.pool = undefined;
  }
}
