import { AuthError, PermanentError, QuotaExhaustedError, TransientError } from '@batchgate/concurrency';
import type { KlineBar } from '@batchgate/contracts/klinesync/v1/klinesync';
import { UpstreamClient, upstreamResponseOf, type UpstreamRunOptions } from '@batchgate/platform/upstream';

export interface KlineQuery {
  region: string;
  code: string;
  kType: number;
  /** Number of bars back from `endTime`. */
  limit: number;
  /** End of the range, epoch ms. */
  endTime: number;
}

interface ItickAnswer {
  code: number;
  msg: string | null;
  data: KlineBar[] | null;
}

/** Provider answer codes (iTick style) that are not success. */
export const ITICK_CODES = { ok: 0, authFailed: 401, quotaExhausted: 429001, productNotFound: 404001 } as const;

/**
 * The iTick-style market-data API, on the platform's outside-API adapter (one connection pool,
 * per-call timeout that aborts the request, the provider's circuit breaker and Retry-After, RED
 * metrics). Failures are the engine's error classes, which decide what happens next: AuthError /
 * QuotaExhaustedError retire the token, RateLimitedError waits for Retry-After (a 429 is the
 * token's, a 503 the provider's), PermanentError (unknown stock) fails the stock and keeps the
 * token, TransientError is retried with backoff. iTick also answers in the body's `code`, which
 * this client reads.
 */
export class ItickClient {
  constructor(readonly upstream: UpstreamClient) {}

  async onApplicationShutdown(): Promise<void> {
    await this.upstream.close();
  }

  /**
   * Runs work that spends a token's reserved call on a kline request, under the provider's
   * breaker: while the provider is down the work waits without reserving anything.
   */
  whileAvailable<R>(work: () => Promise<R>, options: UpstreamRunOptions): Promise<R> {
    return this.upstream.run(work, options);
  }

  async kline(query: KlineQuery, token: string, signal: AbortSignal): Promise<KlineBar[]> {
    let body: Partial<ItickAnswer> | undefined;
    try {
      const answer = await this.upstream.request<Partial<ItickAnswer> | undefined>({
        operation: 'kline',
        path: '/stock/kline',
        query: { region: query.region, code: query.code, kType: query.kType, limit: query.limit, et: query.endTime },
        headers: { token },
        signal,
      });
      body = answer.body;
    } catch (error) {
      // A refused token says why in the body (quota used up, or revoked).
      if (!(error instanceof AuthError)) throw error;
      const refusal = upstreamResponseOf(error)?.body as Partial<ItickAnswer> | undefined;
      throw answerCodeError(refusal?.code, refusal?.msg ?? error.message) ?? error;
    }
    if (!body || typeof body.code !== 'number') throw new TransientError('malformed provider answer');
    if (body.code !== ITICK_CODES.ok) {
      throw answerCodeError(body.code, body.msg ?? 'provider error') ?? new TransientError(`provider code ${body.code}: ${body.msg ?? ''}`);
    }
    return body.data ?? [];
  }
}

function answerCodeError(code: number | undefined, message: string): Error | undefined {
  switch (code) {
    case ITICK_CODES.authFailed:
      return new AuthError(message);
    case ITICK_CODES.quotaExhausted:
      return new QuotaExhaustedError(message);
    case ITICK_CODES.productNotFound:
      return new PermanentError(`unknown stock: ${message}`);
    default:
      return undefined;
  }
}
