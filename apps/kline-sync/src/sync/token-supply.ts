import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { lastValueFrom, type Observable } from 'rxjs';
import type { NatsConnection } from 'nats';
import {
  BrokenCircuitError,
  CallDurationFloor,
  NoCredentialAvailableError,
  QuotaExhaustedError,
  sleep,
  TokenPool,
  WindowPacer,
  type Lease,
} from '@batchgate/concurrency';
import { EVENT_STREAMS, type EventSubject } from '@batchgate/contracts';
import type { TokenManagerServiceClient } from '@batchgate/contracts/tokens/v1/tokens';
import { NATS_CONNECTION, watchEvents } from '@batchgate/platform/messaging';
import { LOGGER, SERVICE_CONFIG } from '@batchgate/platform/nest';
import { runOutsideRequest } from '@batchgate/platform/context';
import { KlineSyncMetrics } from '../kline-sync.metrics';
import { TOKEN_MANAGER_CLIENT } from '../kline-sync.tokens';
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
  /** Calls of the token at the provider now (started, not answered). */
  running: number;
}

/** How long unused reserved calls are kept after their last slot before they are given back. */
const GIVE_BACK_AFTER_MS = 1_000;
/** Calls reserved at once on a token without a rate limit. */
const UNPACED_RESERVATION = 10;

/** One tenant's market-data tokens as this replica last read them from token-manager. */
interface TenantPool {
  pool: TokenPool<MarketDataToken> | undefined;
  /** When the pool was read; 0 once a token event said it changed. */
  readAt: number;
  /** Counts the tenant's token events: a read that an event overtook is stale when it ends. */
  version: number;
  reading: Promise<TokenPool<MarketDataToken>> | undefined;
}

/** The token-manager events that change what a tenant's pool holds (created, changed, retired, exhausted). */
type TokenEventSubject = Extract<EventSubject, `tokens.token.${string}`>;

/**
 * This replica's pools of market-data tokens, one per tenant (a tenant's stocks are pulled only
 * with its own tokens), leased from token-manager (decrypted secrets, rate limits, quota left).
 *
 * Token changes take effect at once: a token created, changed or retired (`tokens.token.*`)
 * marks its tenant's pool stale in every replica, so the next stock reads it again; a pool with no usable credential is read again before
 * a stock fails for want of one (a token enabled a moment ago, its event still on the way); and a
 * job is planned from a pool read when it starts, the same pool its stocks then use. The periodic
 * refresh (SYNC_TOKEN_REFRESH_MS) only covers events this replica missed (NATS was away).
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
export class TokenSupply implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly pools = new Map<string, TenantPool>();
  private readonly tokens = new Map<number, TokenState>();
  private readonly durationFloor = new CallDurationFloor();
  /** This replica, as the holder of the slots it books. */
  private readonly holder = randomUUID();
  private tokenEvents: { stop: () => Promise<void> } | undefined;

  constructor(
    @Inject(TOKEN_MANAGER_CLIENT) private readonly tokenManager: TokenManagerServiceClient,
    @Inject(NATS_CONNECTION) private readonly nats: NatsConnection,
    @Inject(SERVICE_CONFIG) private readonly config: KlineSyncConfig,
    @Inject(KlineSyncMetrics) private readonly metrics: KlineSyncMetrics,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.tokenEvents = await watchEvents<TokenEventSubject>(
      this.nats,
      {
        stream: EVENT_STREAMS[0].name,
        filter: 'tokens.token.*',
        // A token used up is not read again: the pool finds out at its next reservation, and the
        // calls other replicas give back later are still usable here. Re-reading on every
        // exhaustion (one per reservation that reaches the limit) made every replica rebuild its
        // pools many times a second at the end of the quotas, and calls bunched up at the provider.
        handler: ({ subject, payload }) => {
          if (subject !== 'tokens.token.exhausted') this.markStale(payload.tenant);
        },
      },
      this.logger,
    );
  }

  /**
   * Runs `fn` with a token of the tenant's pool. When the pool has no usable token, it is read
   * again once from token-manager first, so a stock fails for want of a token only when
   * token-manager has none for the tenant either.
   */
  async use<R>(tenant: string, fn: (token: MarketDataToken, lease: Lease<MarketDataToken>) => Promise<R>, signal?: AbortSignal): Promise<Awaited<R>> {
    const pool = await this.current(tenant);
    try {
      return await pool.use(fn, signal);
    } catch (error) {
      if (!(error instanceof NoCredentialAvailableError)) throw error;
      return (await this.fresh(tenant)).use(fn, signal);
    }
  }

  /**
   * The tenant's pool as token-manager has it now (a read that began before this call does not
   * count): what a job is planned from, and then pulled with.
   */
  async fresh(tenant: string): Promise<TokenPool<MarketDataToken>> {
    const entry = this.entry(tenant);
    await entry.reading?.catch(() => undefined);
    return this.read(tenant, entry);
  }

  /**
   * The tenant's pool; read again in the background when a token event made it stale or it is
   * older than SYNC_TOKEN_REFRESH_MS (the read updates this same pool). Stocks never wait for that
   * read: a replica whose stocks all paused for it then made the calls of the time slots that had
   * passed meanwhile at once, and they bunched up at the provider with other replicas' calls.
   */
  private async current(tenant: string): Promise<TokenPool<MarketDataToken>> {
    const entry = this.entry(tenant);
    if (!entry.pool) return this.read(tenant, entry);
    if (entry.readAt === 0 || Date.now() - entry.readAt >= this.config.SYNC_TOKEN_REFRESH_MS) {
      this.read(tenant, entry).catch((error: unknown) => this.logger.warn({ err: error, tenant }, 'could not re-read market-data tokens'));
    }
    return entry.pool;
  }

  private entry(tenant: string): TenantPool {
    let entry = this.pools.get(tenant);
    if (!entry) {
      entry = { pool: undefined, readAt: 0, version: 0, reading: undefined };
      this.pools.set(tenant, entry);
    }
    return entry;
  }

  /** One read at a time per tenant; callers meanwhile share it. */
  private read(tenant: string, entry: TenantPool): Promise<TokenPool<MarketDataToken>> {
    entry.reading ??= this.refresh(tenant, entry).finally(() => (entry.reading = undefined));
    return entry.reading;
  }

  /** A token of the tenant was created, changed, retired or used up: its next stock reads the pool again. */
  private markStale(tenant: string): void {
    const entry = this.pools.get(tenant);
    if (!entry) return;
    entry.version++;
    entry.readAt = 0;
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
    const start = async () => {
      token.running++;
      try {
        return await call();
      } finally {
        token.running--;
      }
    };
    await this.takeReservedCall(tokenId, token, signal);
    try {
      return token.pacer ? await token.pacer.run(start, signal) : await start();
    } catch (error) {
      // Not sent: the provider went down while the call waited for its slot. Its quota goes back.
      if (error instanceof BrokenCircuitError) void this.giveBackUnsent(tokenId, token.tenant);
      throw error;
    }
  }

  /**
   * When a call of the token leased at `nowMs` could start at the earliest (the token pool's clock:
   * epoch ms), with `leased` leases of it out: its reserved slot, and the provider's window as this
   * replica paces the token behind the calls leased before it that have not started yet. The pool
   * gives a stock the token that can call soonest.
   */
  private nextCallAt(tokenId: number, nowMs: number, leased: number): number {
    const token = this.tokens.get(tokenId);
    if (!token) return nowMs;
    const reservation = token.reservation;
    // The next reserved call's slot (on performance.now()); once the reservation is taken, the
    // next one's slots follow on.
    const slotAt = reservation ? performance.timeOrigin + reservation.firstSlotAt + reservation.used * reservation.slotMs : nowMs;
    return Math.max(nowMs, slotAt, token.pacer?.nextStartAt(Math.max(0, leased - token.running), nowMs) ?? nowMs);
  }

  /**
   * Books the first `calls` calls of the jobs about to start, so their first stocks find them
   * reserved instead of all asking token-manager at once (a job's first reservations queued there
   * behind each other for up to 170 ms, on a 7 s job). The calls this replica already holds
   * unused count; the tenant's usable tokens holding none get a reservation each (a second's
   * worth, as any), until the calls are covered. Calls the jobs do not use are given back, as any
   * reservation's.
   *
   * Not `calls` spread over every token: a stream of small jobs then booked one call on each
   * token per planning pass, which the pass's stocks used up, and the next pass booked again —
   * 1,966 one-call reservations (a locked-row transaction each at token-manager) against 95 full
   * ones in a 10 s burst of 2,000 two-stock jobs (bench/gateway/README.md, section 33).
   */
  prime(tenant: string, calls: number): void {
    const pool = this.pools.get(tenant)?.pool;
    if (!pool || calls < 1) return;
    const usable = pool
      .credentials()
      .filter((credential) => credential.status === 'active')
      .map((credential) => Number(credential.id));
    let booked = usable.reduce((sum, tokenId) => sum + this.heldCalls(tokenId), 0);
    for (const tokenId of usable) {
      if (booked >= calls) return;
      const token = this.tokens.get(tokenId);
      if (!token || this.heldCalls(tokenId) > 0) continue;
      booked += this.reservationSize(token);
      token.reserving = this.reserve(tokenId, token)
        .catch((error: unknown) => this.logger.debug({ err: error, tokenId }, 'could not reserve a starting job\'s first calls'))
        .finally(() => (token.reserving = undefined));
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
        this.metrics.tokenCalls.inc({ token_id: String(tokenId) });
        return;
      }
      token.reserving ??= this.reserve(tokenId, token).finally(() => (token.reserving = undefined));
      await token.reserving;
    }
  }

  private async reserve(tokenId: number, token: TokenState): Promise<void> {
    const count = this.reservationSize(token);
    const answer = await this.forPool(() => this.tokenManager.reportUsage({ tenant: token.tenant, tokenId, count, partial: true, holder: this.holder }));
    if (answer.dailyLimit > 0) token.remainingQuota = answer.dailyLimit - answer.dailyUsed;
    // Refused: its quota is used up, or it is no longer usable there (retired — e.g. by another
    // stock the provider refused it for —, disabled or expired). Either way this replica stops
    // using it, without retiring it at token-manager (an admin's disable is not a retirement).
    if (!answer.accepted) {
      throw new QuotaExhaustedError(
        answer.exhausted ? `token ${tokenId} has used its daily quota` : `token ${tokenId} is no longer usable (retired, disabled or expired at token-manager)`,
      );
    }
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

  /**
   * Reads the tenant's tokens from token-manager into its pool. The pool is kept and brought up to
   * date in place — new tokens added, quotas set (an exhausted token with quota again is restored),
   * tokens no longer usable there (disabled, deleted, used up) marked exhausted here — so the
   * calls in flight, the cool-downs after a 429 and the least-recently-used order carry over: a
   * pool built anew on every change lost them and let a token's calls bunch up at the provider.
   */
  private async refresh(tenant: string, entry: TenantPool): Promise<TokenPool<MarketDataToken>> {
    const version = entry.version;
    const { leases } = await this.forPool(() => this.tokenManager.leaseTokens({ tenant, provider: this.config.ITICK_PROVIDER, maxTokens: 0 }));
    const leased = new Set(leases.map((lease) => String(lease.tokenId)));
    const known = new Map((entry.pool?.credentials() ?? []).map((credential) => [credential.id, credential.status]));
    // A token retired here (the provider refused it) cannot come back in place; if token-manager
    // lists it again (an admin enabled it), the pool starts over.
    const pool = entry.pool && ![...leased].some((id) => known.get(id) === 'retired') ? entry.pool : this.newPool(tenant);
    if (pool !== entry.pool) known.clear();
    for (const lease of leases) {
      this.trackToken(tenant, lease.tokenId, lease.rateLimitPerSecond, lease.remainingQuota);
      const id = String(lease.tokenId);
      // token-manager counts this replica's reserved calls as used; the pool counts them when made.
      const quota = lease.remainingQuota < 0 ? Infinity : lease.remainingQuota + this.unusedReserved(lease.tokenId);
      if (known.has(id)) pool.setQuota(id, quota);
      else pool.add({ id, value: { tokenId: lease.tokenId, secret: lease.secret }, quota, nextCallAt: (nowMs, leased) => this.nextCallAt(lease.tokenId, nowMs, leased) });
    }
    for (const [id, status] of known) if (status === 'active' && !leased.has(id)) pool.setQuota(id, 0);
    entry.pool = pool;
    entry.readAt = entry.version === version ? Date.now() : 0;
    this.logger.info({ tenant, tokens: leases.length }, 'market-data tokens refreshed');
    return pool;
  }

  private newPool(tenant: string): TokenPool<MarketDataToken> {
    const pool = new TokenPool<MarketDataToken>({
      name: 'itick-tokens',
      credentials: [],
      maxInFlightPerCredential: this.config.SYNC_MAX_IN_FLIGHT_PER_TOKEN,
      metrics: this.metrics.concurrency,
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
    return pool;
  }

  /** What this replica keeps of a token between reservations: its tenant, rate (and pacer) and quota left. */
  private trackToken(tenant: string, tokenId: number, ratePerSecond: number, remainingQuota: number): void {
    const known = this.tokens.get(tokenId);
    const pacer =
      known?.ratePerSecond === ratePerSecond
        ? known.pacer
        : ratePerSecond > 0
          ? new WindowPacer({ limit: ratePerSecond, windowMs: 1_000, durationFloor: this.durationFloor })
          : undefined;
    if (known) Object.assign(known, { ratePerSecond, pacer, remainingQuota });
    else this.tokens.set(tokenId, { tenant, ratePerSecond, pacer, remainingQuota, reservation: undefined, reserving: undefined, running: 0 });
  }

  /** Calls of the token this replica holds unused, and those a reservation on its way asks for. */
  private heldCalls(tokenId: number): number {
    const token = this.tokens.get(tokenId);
    return this.unusedReserved(tokenId) + (token?.reserving ? this.reservationSize(token) : 0);
  }

  /** Calls of the token this replica has reserved and not made yet. */
  private unusedReserved(tokenId: number): number {
    const reservation = this.tokens.get(tokenId)?.reservation;
    return reservation ? reservation.granted - reservation.used + reservation.returned : 0;
  }

  /** Gives back every unused reservation (the workers have stopped by now). */
  async beforeApplicationShutdown(): Promise<void> {
    await this.tokenEvents?.stop();
    this.pools.clear();
    await Promise.all([...this.tokens.keys()].map((tokenId) => this.giveBackReserved(tokenId)));
  }

  private async giveBackReserved(tokenId: number): Promise<void> {
    const token = this.tokens.get(tokenId);
    if (token?.reservation) await this.giveBack(tokenId, token, token.reservation);
  }
}
