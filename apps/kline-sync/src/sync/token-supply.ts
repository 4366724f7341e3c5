import { Inject, Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Counter, Registry } from 'prom-client';
import { lastValueFrom, type Observable } from 'rxjs';
import { BrokenCircuitError, CallDurationFloor, QuotaExhaustedError, sleep, TokenPool, WindowPacer, type CredentialSpec } from '@batchgate/concurrency';
import type { TokenManagerServiceClient } from '@batchgate/contracts/tokens/v1/tokens';
import { LOGGER } from '@batchgate/platform/nest';
import { runOutsideRequest } from '@batchgate/platform/logging';
import { prometheusConcurrencyListener } from '@batchgate/platform/observability';
import { KLINE_SYNC_CONFIG, TOKEN_MANAGER_CLIENT } from '../kline-sync.tokens';
import type { KlineSyncConfig } from '../config/kline-sync.config';

/** What a lease of the market-data token pool hands out. */
export interface MarketDataToken {
  tokenId: number;
  secret: string;
}

/**
 * Calls of one token this replica has reserved at token-manager and not made yet. The calls' time
 * slots run from `firstSlotAt`, `slotMs` apart; they are made in order.
 */
interface Reservation {
  granted: number;
  /** Calls taken, in slot order. */
  used: number;
  /** Calls taken but cancelled before their slot. */
  returned: number;
  firstSlotAt: number;
  slotMs: number;
  /** Gives the unused calls back once their slots have passed (the replica had no more work). */
  giveBack: NodeJS.Timeout | undefined;
}

/** What this replica knows of a token between reservations. */
interface TokenState {
  /** The token's tenant, named in every call about it to token-manager. */
  tenant: string;
  ratePerSecond: number;
  /** Paces this replica's calls of the token as the provider sees them. */
  pacer: WindowPacer | undefined;
  /** Calls left today; -1 = unlimited. */
  remainingQuota: number;
  reservation: Reservation | undefined;
  reserving: Promise<void> | undefined;
}

/** How long unused reserved calls are kept after their last slot before they are given back. */
const GIVE_BACK_AFTER_MS = 1_000;
/** Calls reserved at once on a token without a rate limit. */
const UNPACED_RESERVATION = 10;

/** One tenant's market-data tokens as this replica last leased them. */
interface TenantPool {
  pool: TokenPool<MarketDataToken> | undefined;
  refreshedAt: number;
  refreshing: Promise<TokenPool<MarketDataToken>> | undefined;
}

/**
 * This replica's pools of market-data tokens, one per tenant (a tenant's stocks are pulled only
 * with its own tokens), leased from token-manager (decrypted secrets, rate limits, quota left)
 * and refreshed periodically.
 *
 * Before a call, its quota unit and time slot are reserved at token-manager (one locked row
 * update there), so replicas together never exceed a token's daily limit or its rate. Reserving
 * a call at a time cost a round trip and a transaction per call, which on a small machine was the
 * largest share of the work; so a replica reserves a second's worth of calls of a token at once
 * (its rate per second), makes them in their slots, and gives back what it did not use once their
 * slots have passed. Close to the end of a token's quota it reserves one call at a time, so no
 * replica holds calls another could use. A replica that crashes loses at most one reservation per
 * token: counted as used, never more than the limit.
 */
@Injectable()
export class TokenSupply implements BeforeApplicationShutdown {
  private readonly pools = new Map<string, TenantPool>();
  private readonly tokens = new Map<number, TokenState>();
  private readonly durationFloor = new CallDurationFloor();
  /** This replica, as the holder of the slots it books. */
  private readonly holder = randomUUID();
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
      help: 'Provider calls made per market-data token',
      labelNames: ['token_id'],
      registers: [registry],
    });
  }

  /** The tenant's current pool, refreshed from token-manager when older than SYNC_TOKEN_REFRESH_MS. */
  async current(tenant: string): Promise<TokenPool<MarketDataToken>> {
    let entry = this.pools.get(tenant);
    if (!entry) {
      entry = { pool: undefined, refreshedAt: 0, refreshing: undefined };
      this.pools.set(tenant, entry);
    }
    if (entry.pool && Date.now() - entry.refreshedAt < this.config.SYNC_TOKEN_REFRESH_MS) return entry.pool;
    const pending = entry;
    pending.refreshing ??= this.refresh(tenant, pending).finally(() => (pending.refreshing = undefined));
    return pending.refreshing;
  }

  /**
   * Makes one provider call with the token: takes a reserved call (a refusal at token-manager
   * means the quota is used up), waits for its time slot, and starts it no sooner than the token's
   * rate allows after this replica's earlier calls as the provider counted them — a call that got
   * there late (a new connection, a busy event loop) delays the next ones instead of squeezing
   * them into the provider's window.
   */
  async call<R>(tokenId: number, call: () => Promise<R>, signal?: AbortSignal): Promise<R> {
    const token = this.tokens.get(tokenId);
    if (!token) throw new Error(`token ${tokenId} is not in this replica's pool`);
    await this.takeReservedCall(tokenId, token, signal);
    try {
      return token.pacer ? await token.pacer.run(call, signal) : await call();
    } catch (error) {
      // Not sent: the provider went down while the call waited for its slot. Its quota goes back.
      if (error instanceof BrokenCircuitError) void this.giveBackUnsent(tokenId, token.tenant);
      throw error;
    }
  }

  private async giveBackUnsent(tokenId: number, tenant: string): Promise<void> {
    try {
      await this.forPool(() => this.tokenManager.releaseUsage({ tenant, tokenId, count: 1 }));
    } catch (error) {
      this.logger.warn({ err: error, tokenId }, 'could not give back an unsent call to token-manager');
    }
  }

  private async takeReservedCall(tokenId: number, token: TokenState, signal?: AbortSignal): Promise<void> {
    for (;;) {
      const reservation = token.reservation;
      if (reservation && reservation.used < reservation.granted) {
        const slotAt = reservation.firstSlotAt + reservation.used * reservation.slotMs;
        reservation.used++;
        const waitMs = slotAt - performance.now();
        if (waitMs > 0) {
          try {
            await sleep(waitMs, { signal });
          } catch (error) {
            reservation.returned++; // cancelled before its slot: the call is given back with the rest
            throw error;
          }
        }
        this.callsPerToken.inc({ token_id: String(tokenId) });
        return;
      }
      token.reserving ??= this.reserve(tokenId, token).finally(() => (token.reserving = undefined));
      await token.reserving;
    }
  }

  private async reserve(tokenId: number, token: TokenState): Promise<void> {
    const answer = await this.forPool(() =>
      this.tokenManager.reportUsage({ tenant: token.tenant, tokenId, count: this.reservationSize(token), partial: true, holder: this.holder }),
    );
    if (answer.dailyLimit > 0) token.remainingQuota = answer.dailyLimit - answer.dailyUsed;
    if (!answer.accepted) throw new QuotaExhaustedError(`token ${tokenId} has used its daily quota`);
    // The previous reservation is used up, but calls cancelled before their slot go back now.
    const previous = token.reservation;
    if (previous) void this.giveBack(tokenId, token, previous);
    const reservation: Reservation = {
      granted: answer.granted,
      used: 0,
      returned: 0,
      firstSlotAt: performance.now() + answer.waitMs,
      slotMs: answer.slotMicros / 1_000,
      giveBack: undefined,
    };
    const lastSlotInMs = answer.waitMs + answer.granted * reservation.slotMs;
    reservation.giveBack = setTimeout(() => void this.giveBack(tokenId, token, reservation), lastSlotInMs + GIVE_BACK_AFTER_MS);
    reservation.giveBack.unref();
    token.reservation = reservation;
  }

  /**
   * A second's worth of calls (the token's rate), one call at a time once the quota left is under
   * four reservations, and a fixed number on a token without a rate limit.
   */
  private reservationSize(token: TokenState): number {
    const size = token.ratePerSecond > 0 ? token.ratePerSecond : UNPACED_RESERVATION;
    if (token.remainingQuota < 0) return size;
    return Math.max(1, Math.min(size, Math.floor(token.remainingQuota / 4)));
  }

  /**
   * Calls token-manager for the pool, outside the request that happened to need it: reservations
   * and give-backs serve every caller, so they must not inherit one caller's deadline or be
   * cancelled with it (an abandoned request would leak its reserved quota).
   */
  private forPool<T>(call: () => Observable<T>): Promise<T> {
    return runOutsideRequest(() => lastValueFrom(call()));
  }

  /** Returns the reservation's unused calls to token-manager (their quota; the slots are gone). */
  private async giveBack(tokenId: number, token: TokenState, reservation: Reservation): Promise<void> {
    if (token.reservation === reservation) token.reservation = undefined;
    clearTimeout(reservation.giveBack);
    const unused = reservation.granted - reservation.used + reservation.returned;
    if (unused <= 0) return;
    reservation.used = reservation.granted;
    reservation.returned = 0;
    try {
      await this.forPool(() => this.tokenManager.releaseUsage({ tenant: token.tenant, tokenId, count: unused }));
    } catch (error) {
      this.logger.warn({ err: error, tokenId, unused }, 'could not give back unused calls to token-manager');
    }
  }

  private async refresh(tenant: string, entry: TenantPool): Promise<TokenPool<MarketDataToken>> {
    const { leases } = await this.forPool(() => this.tokenManager.leaseTokens({ tenant, provider: this.config.ITICK_PROVIDER, maxTokens: 0 }));
    const credentials: CredentialSpec<MarketDataToken>[] = leases.map((lease) => ({
      id: String(lease.tokenId),
      value: { tokenId: lease.tokenId, secret: lease.secret },
      ...(lease.remainingQuota >= 0 ? { quota: lease.remainingQuota } : {}),
    }));
    for (const lease of leases) {
      const known = this.tokens.get(lease.tokenId);
      const ratePerSecond = lease.rateLimitPerSecond;
      const pacer =
        known?.ratePerSecond === ratePerSecond
          ? known.pacer
          : ratePerSecond > 0
            ? new WindowPacer({ limit: ratePerSecond, windowMs: 1_000, durationFloor: this.durationFloor })
            : undefined;
      if (known) Object.assign(known, { ratePerSecond, pacer, remainingQuota: lease.remainingQuota });
      else this.tokens.set(lease.tokenId, { tenant, ratePerSecond, pacer, remainingQuota: lease.remainingQuota, reservation: undefined, reserving: undefined });
    }
    const pool = new TokenPool<MarketDataToken>({
      name: 'itick-tokens',
      credentials,
      maxInFlightPerCredential: this.config.SYNC_MAX_IN_FLIGHT_PER_TOKEN,
      metrics: prometheusConcurrencyListener(this.registry),
    });
    // A token the provider refused keeps none of its reserved calls: they could never be made.
    pool.on('exhausted', ({ id }) => void this.giveBackReserved(Number(id)));
    pool.on('retired', ({ id, reason, error }) => {
      void this.giveBackReserved(Number(id));
      const message = error instanceof Error ? error.message : reason;
      this.logger.warn({ tokenId: id, reason: message }, 'market-data token retired');
      void this.forPool(() => this.tokenManager.retireToken({ tenant, tokenId: Number(id), reason: message })).catch((e: unknown) =>
        this.logger.error({ err: e, tokenId: id }, 'could not retire token at token-manager'),
      );
    });
    entry.pool = pool;
    entry.refreshedAt = Date.now();
    this.logger.info({ tenant, tokens: credentials.length }, 'market-data tokens refreshed');
    return pool;
  }

  /** Gives back every unused reservation (the workers have stopped by now). */
  async beforeApplicationShutdown(): Promise<void> {
    this.pools.clear();
    await Promise.all([...this.tokens.keys()].map((tokenId) => this.giveBackReserved(tokenId)));
  }

  private async giveBackReserved(tokenId: number): Promise<void> {
    const token = this.tokens.get(tokenId);
    if (token?.reservation) await this.giveBack(tokenId, token, token.reservation);
  }
}
