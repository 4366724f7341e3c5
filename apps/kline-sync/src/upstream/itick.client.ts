import {
  AuthError,
  parseRetryAfter,
  PermanentError,
  QuotaExhaustedError,
  RateLimitedError,
  TransientError,
} from '@batchgate/concurrency';
import type { KlineBar } from '@batchgate/contracts/klinesync/v1/klinesync';
import { Agent, request, type Dispatcher } from 'undici';

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
 * The iTick-style market-data API over HTTP. The base URL is configuration, so the same build
 * talks to upstream-sim or to the real provider. Every call takes an AbortSignal (the per-call
 * timeout of the concurrency engine aborts the request itself). Failures are thrown as the
 * engine's error classes, which decide what happens next: AuthError / QuotaExhaustedError retire
 * the token, RateLimitedError waits for Retry-After, PermanentError (unknown stock) fails the stock
 * and keeps the token, TransientError is retried with backoff.
 *
 * undici's `request` over a keep-alive agent rather than the global `fetch`: at a few hundred
 * calls per second the WHATWG wrapping of `fetch` was a sizeable share of the replica's CPU.
 */
export class ItickClient {
  private readonly agent = new Agent({ connections: 256, keepAliveTimeout: 30_000 });

  constructor(private readonly baseUrl: string) {}

  async onApplicationShutdown(): Promise<void> {
    await this.agent.close();
  }

  async kline(query: KlineQuery, token: string, signal: AbortSignal): Promise<KlineBar[]> {
    const url = new URL('/stock/kline', this.baseUrl);
    url.search = new URLSearchParams({
      region: query.region,
      code: query.code,
      kType: String(query.kType),
      limit: String(query.limit),
      et: String(query.endTime),
    }).toString();
    let response: Dispatcher.ResponseData;
    let body: Partial<ItickAnswer> | undefined;
    try {
      response = await request(url, { dispatcher: this.agent, headers: { token, accept: 'application/json' }, signal });
      // Read every body, even of an error, so the connection goes back to the pool.
      body = (await response.body.json().catch(() => undefined)) as Partial<ItickAnswer> | undefined;
    } catch (error) {
      if (signal.aborted) throw signal.reason ?? error;
      throw new TransientError(`market data request failed: ${(error as Error).message}`, { cause: error });
    }
    const status = response.statusCode;
    if (status === 429) {
      throw new RateLimitedError(parseRetryAfter(response.headers['retry-after'], Date.now()) ?? 1_000);
    }
    if (status === 401 || status === 403) {
      throw answerCodeError(body?.code, body?.msg ?? `HTTP ${status}`) ?? new AuthError(`token rejected: HTTP ${status}`);
    }
    if (status >= 500) throw new TransientError(`provider error: HTTP ${status}`);
    if (!body || typeof body.code !== 'number') throw new TransientError(`malformed provider answer (HTTP ${status})`);
    if (body.code !== ITICK_CODES.ok) {
      const message = `provider code ${body.code}: ${body.msg ?? ''}`;
      throw answerCodeError(body.code, body.msg ?? 'provider error') ?? (status >= 400 ? new PermanentError(message) : new TransientError(message));
    }
    if (status < 200 || status >= 300) throw new PermanentError(`unexpected HTTP ${status}`);
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
