import { Inject, Injectable } from '@nestjs/common';
import { classifyError, retry, type ErrorClassifier, type RetryPolicy } from '@batchgate/concurrency';
import type { KlineBar } from '@batchgate/contracts/klinesync/v1/klinesync';
import { upstreamResponseOf } from '@batchgate/platform/upstream';
import { SERVICE_CONFIG } from '@batchgate/platform/nest';
import type { KlineSyncConfig } from '../config/kline-sync.config';
import { KlineSyncMetrics } from '../kline-sync.metrics';
import { ItickClient } from '../upstream/itick.client';
import { barRange, BAR_MS, MAX_BARS_PER_CALL } from './bar-range';
import { TokenSupply } from './token-supply';

export interface PullOptions {
  /** Aborts the pull, calls in flight included (the caller's deadline or cancel). */
  signal?: AbortSignal;
  /**
   * For durable work (a job's stock): while the provider is down, wait for it (up to
   * SYNC_PROVIDER_OUTAGE_WAIT_MS) until this aborts (the worker stops). Without it an outage fails
   * the call at once: a request must not hang on a provider that is down.
   */
  waitWhileDown?: AbortSignal;
}

export interface StockPull {
  /** Whose tokens make the calls. */
  tenant: string;
  market: string;
  code: string;
  kType: number;
  startDate: string;
  endDate: string;
}

/**
 * A token-specific refusal (revoked, quota used up, rate-limited) is worth an immediate retry: the
 * pool has already retired, exhausted or cooled down that token, so the retry gets another one.
 * The provider's own 503 + Retry-After is not the token's: its delay stands.
 */
const switchTokenOnRefusal: ErrorClassifier = (error, nowMs) => {
  const classification = classifyError(error, nowMs);
  if (classification.kind === 'rate-limited' && (upstreamResponseOf(error)?.status ?? 429) !== 429) return classification;
  return classification.kind === 'auth' || classification.kind === 'quota' || classification.kind === 'rate-limited'
    ? { kind: 'rate-limited', retryAfterMs: 0 }
    : classification;
};

/**
 * Pulls one stock's bars for a date range: each provider call leases a token from the pool, goes
 * through the token supply (quota and time slot reserved at token-manager, paced by the token's
 * rate), and runs under the iTick client's per-call timeout that aborts the HTTP request; failures
 * are retried per policy (another token after a refusal, backoff after a transient error). While
 * the provider is down (its breaker open, or its 503 + Retry-After) a call waits before leasing a
 * token, so an outage spends neither quota nor attempts. A stock that still fails is the caller's
 * to record.
 */
@Injectable()
export class StockPuller {
  private readonly retryPolicy: RetryPolicy;
  private readonly outageWaitMs: number;

  constructor(
    @Inject(SERVICE_CONFIG) config: KlineSyncConfig,
    @Inject(TokenSupply) private readonly tokens: TokenSupply,
    @Inject(ItickClient) private readonly itick: ItickClient,
    @Inject(KlineSyncMetrics) metrics: KlineSyncMetrics,
  ) {
    this.retryPolicy = retry({
      name: 'itick-kline',
      maxAttempts: config.SYNC_CALL_MAX_ATTEMPTS,
      retryOn: ['transient', 'timeout', 'rate-limited'],
      classify: switchTokenOnRefusal,
      backoff: { initialDelayMs: 200, maxDelayMs: 5_000 },
      metrics: metrics.concurrency,
    });
    this.outageWaitMs = config.SYNC_PROVIDER_OUTAGE_WAIT_MS;
  }

  async pull(request: StockPull, options: PullOptions = {}): Promise<KlineBar[]> {
    const range = barRange(request.startDate, request.endDate, request.kType);
    const barMs = BAR_MS[request.kType] ?? 1;
    const bars = new Map<number, KlineBar>();
    // Page backwards from the end of the range, at most MAX_BARS_PER_CALL bars per call.
    for (let endTime = range.toMs, left = range.limit; left > 0 && endTime >= range.fromMs; ) {
      const limit = Math.min(left, MAX_BARS_PER_CALL);
      const page = await this.call(request, limit, endTime, options);
      for (const bar of page) if (bar.t >= range.fromMs && bar.t <= range.toMs) bars.set(bar.t, bar);
      if (page.length < limit) break;
      left -= limit;
      endTime = Math.min(...page.map((bar) => bar.t)) - 1;
      if (endTime < range.fromMs - barMs) break;
    }
    return [...bars.values()].sort((a, b) => a.t - b.t);
  }

  /** The newest `count` bars up to now (intraday triggers). */
  async latest(target: { tenant: string; market: string; code: string; kType: number }, count: number, signal?: AbortSignal): Promise<KlineBar[]> {
    const bars = await this.call(target, count, Date.now(), { signal });
    return [...bars].sort((a, b) => a.t - b.t);
  }

  private async call(
    request: Pick<StockPull, 'tenant' | 'market' | 'code' | 'kType'>,
    limit: number,
    endTime: number,
    { signal, waitWhileDown }: PullOptions,
  ): Promise<KlineBar[]> {
    const query = { region: request.market, code: request.code, kType: request.kType, limit, endTime };
    return this.retryPolicy.execute(
      (attempt) =>
        this.itick.whileAvailable(
          () =>
            this.tokens.use(
              request.tenant,
              (token) => this.tokens.call(token.tokenId, () => this.itick.kline(query, token.secret, attempt.signal), attempt.signal),
              attempt.signal,
            ),
          waitWhileDown ? { signal: attempt.signal, waitWhileDownMs: this.outageWaitMs, stopWaiting: waitWhileDown } : { signal: attempt.signal },
        ),
      signal,
    );
  }
}
