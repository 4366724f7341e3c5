import { PermanentError, retry, type RetryPolicy } from '@batchgate/concurrency';
import { UpstreamClient, upstreamResponseOf, type UpstreamRunOptions } from '@batchgate/platform/upstream';

/** The ids a de-list needs, fetched once per tenant and cached (SessionCache). */
export interface MarketplaceSession {
  parentMsgId: string;
  toolId: string;
}

export interface ProductFacts {
  productName: string;
  productImg: string;
}

/** What invoking the de-list tool for a product answered. */
export type InvokeAnswer =
  | ({ state: 'started'; offlineMsgId: string; repeat: boolean } & ProductFacts)
  | ({ state: 'already-offline' } & ProductFacts);

export interface PollAnswer extends ProductFacts {
  status: 'pending' | 'success' | 'failed';
  final: boolean;
  message: string;
}

/** The cached conversation or tool id is no longer known to the marketplace (404): fetch new ones. */
export class StaleSessionError extends PermanentError {
  constructor(message: string) {
    super(message);
    this.name = 'StaleSessionError';
  }
}

/** The marketplace does not know the product (404 PRODUCT_NOT_FOUND). */
export class UnknownProductError extends PermanentError {
  constructor(productId: number) {
    super(`product ${productId} does not exist at the marketplace`);
    this.name = 'UnknownProductError';
  }
}

/** Sees every attempt of a call (its start, duration and failure), e.g. to feed an adaptive limit. */
export type CallObserver = (attempt: { startedAt: number; latencyMs: number; error?: unknown }) => void;

interface ErrorAnswer {
  code?: string;
  message?: string;
}

/**
 * The marketplace seller API of seed 000 on the platform's outside-API adapter (keep-alive pool,
 * per-call timeout that aborts, the marketplace's circuit breaker and Retry-After, RED metrics),
 * each call retried by error class (timeouts, 5xx, 429) with backoff. The de-list call carries an
 * idempotency key derived from the tenant and product, so a retry or a redelivery after a crash is
 * never a second effect.
 */
export class MarketplaceClient {
  private readonly retryPolicy: RetryPolicy;

  constructor(
    readonly upstream: UpstreamClient,
    maxAttempts: number,
  ) {
    this.retryPolicy = retry({ maxAttempts, backoff: { initialDelayMs: 100, maxDelayMs: 2_000 }, name: 'marketplace' });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.upstream.close();
  }

  /** Runs one product's calls under the marketplace's breaker (waiting out an outage when asked). */
  whileAvailable<R>(work: () => Promise<R>, options: UpstreamRunOptions): Promise<R> {
    return this.upstream.run(work, options);
  }

  async openConversation(signal?: AbortSignal): Promise<string> {
    const { body } = await this.call<{ parentMsgId?: unknown }>(signal, undefined, (attemptSignal) =>
      this.upstream.request({ operation: 'conversation', method: 'POST', path: '/marketplace/conversations', json: {}, signal: attemptSignal }),
    );
    return requiredString(body.parentMsgId, 'parentMsgId');
  }

  async offlineToolId(signal?: AbortSignal): Promise<string> {
    const { body } = await this.call<{ toolId?: unknown }>(signal, undefined, (attemptSignal) =>
      this.upstream.request({ operation: 'tool', path: '/marketplace/tools/offline', signal: attemptSignal }),
    );
    return requiredString(body.toolId, 'toolId');
  }

  async invoke(session: MarketplaceSession, productId: number, idempotencyKey: string, signal?: AbortSignal, observe?: CallObserver): Promise<InvokeAnswer> {
    let body: Record<string, unknown>;
    try {
      ({ body } = await this.call<Record<string, unknown>>(signal, observe, (attemptSignal) =>
        this.upstream.request({
          operation: 'invoke-tool',
          method: 'POST',
          path: `/marketplace/tools/${encodeURIComponent(session.toolId)}/invoke`,
          json: { parentMsgId: session.parentMsgId, productId },
          idempotencyKey,
          signal: attemptSignal,
        }),
      ));
    } catch (error) {
      const refusal = upstreamResponseOf(error);
      if (refusal?.status === 404) {
        const code = (refusal.body as ErrorAnswer | undefined)?.code;
        if (code === 'PRODUCT_NOT_FOUND') throw new UnknownProductError(productId);
        throw new StaleSessionError(`marketplace: ${(refusal.body as ErrorAnswer | undefined)?.message ?? code ?? 'HTTP 404'}`);
      }
      throw error;
    }
    const facts = productFacts(body);
    if (body['alreadyOffline'] === true) return { state: 'already-offline', ...facts };
    return { state: 'started', offlineMsgId: requiredString(body['offlineMsgId'], 'offlineMsgId'), repeat: body['repeat'] === true, ...facts };
  }

  async poll(offlineMsgId: string, signal?: AbortSignal, observe?: CallObserver): Promise<PollAnswer> {
    const { body } = await this.call<Record<string, unknown>>(signal, observe, (attemptSignal) =>
      this.upstream.request({ operation: 'poll', path: `/marketplace/messages/${encodeURIComponent(offlineMsgId)}`, signal: attemptSignal }),
    );
    const status = body['status'];
    if (status !== 'pending' && status !== 'success' && status !== 'failed') throw new PermanentError(`marketplace: unexpected poll status ${String(status)}`);
    return { status, final: body['final'] === true, message: typeof body['message'] === 'string' ? body['message'] : '', ...productFacts(body) };
  }

  private call<T>(
    signal: AbortSignal | undefined,
    observe: CallObserver | undefined,
    request: (signal: AbortSignal) => Promise<{ body: unknown }>,
  ): Promise<{ body: T }> {
    return this.retryPolicy.execute(async ({ signal: attemptSignal }) => {
      const startedAt = performance.now();
      let answer: { body: unknown };
      try {
        answer = await request(attemptSignal);
      } catch (error) {
        observe?.({ startedAt, latencyMs: performance.now() - startedAt, error });
        throw error;
      }
      observe?.({ startedAt, latencyMs: performance.now() - startedAt });
      if (typeof answer.body !== 'object' || answer.body === null) throw new PermanentError('marketplace: answer is not a JSON object');
      return answer as { body: T };
    }, signal);
  }
}

function requiredString(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') throw new PermanentError(`marketplace: answer without ${field}`);
  return value;
}

function productFacts(body: Record<string, unknown>): ProductFacts {
  return {
    productName: typeof body['productName'] === 'string' ? body['productName'] : '',
    productImg: typeof body['productImg'] === 'string' ? body['productImg'] : '',
  };
}
