import type { FastifyInstance, FastifyRequest } from 'fastify';
import { REQUEST_ID_HEADER } from '@batchgate/platform/context';
import type { FaultInjector, SimAnswer } from '../faults/fault-injector';
import type { SimStats } from '../stats/sim-stats';

export interface WebhookDelivery {
  /** From the `Idempotency-Key` header, else the body's `idempotencyKey` / `idempotency_key`. */
  idempotencyKey: string | null;
  receivedAt: string;
  requestId: string | null;
  body: unknown;
}

/** Deliveries kept for `/__sim/webhook/deliveries`; counts in the stats stay exact beyond it. */
const KEPT_DELIVERIES = 10_000;

/**
 * A notification webhook receiver: records every delivery with its idempotency key. The first
 * delivery of a key is the effect, later ones are repeats (answered `duplicate: true`).
 */
export class WebhookApi {
  private deliveries: WebhookDelivery[] = [];
  private total = 0;
  private withoutKey = 0;

  constructor(
    private readonly stats: SimStats,
    private readonly now: () => number,
  ) {}

  reset(): void {
    this.deliveries = [];
    this.total = 0;
    this.withoutKey = 0;
  }

  summary(): { deliveries: number; withoutKey: number } {
    return { deliveries: this.total, withoutKey: this.withoutKey };
  }

  /** Kept deliveries, oldest first, optionally only those of one key. */
  list(key?: string): WebhookDelivery[] {
    return key === undefined
      ? [...this.deliveries]
      : this.deliveries.filter((d) => d.idempotencyKey === key);
  }

  register(app: FastifyInstance, faults: FaultInjector): void {
    app.post(
      '/webhook/notify',
      faults.wrap('webhook.notify', (request) => this.receive(request)),
    );
  }

  private receive(request: FastifyRequest): SimAnswer {
    const body = request.body ?? null;
    const idempotencyKey = keyOf(request.headers['idempotency-key'], body);
    const requestId = request.headers[REQUEST_ID_HEADER];
    this.total++;
    this.deliveries.push({
      idempotencyKey,
      receivedAt: new Date(this.now()).toISOString(),
      requestId: typeof requestId === 'string' ? requestId : null,
      body,
    });
    if (this.deliveries.length > KEPT_DELIVERIES)
      this.deliveries.splice(0, this.deliveries.length - KEPT_DELIVERIES);
    if (idempotencyKey === null) {
      this.withoutKey++;
      return { status: 200, body: { received: true, duplicate: false } };
    }
    const seenBefore = this.stats.effectCount('webhook.delivery', idempotencyKey) > 0;
    this.stats.effect('webhook.delivery', idempotencyKey, !seenBefore);
    return { status: 200, body: { received: true, duplicate: seenBefore } };
  }
}

function keyOf(header: string | string[] | undefined, body: unknown): string | null {
  if (typeof header === 'string' && header.length > 0) return header.slice(0, 500);
  if (typeof body === 'object' && body !== null) {
    const record = body as Record<string, unknown>;
    const fromBody = record['idempotencyKey'] ?? record['idempotency_key'];
    if (typeof fromBody === 'string' && fromBody.length > 0) return fromBody.slice(0, 500);
  }
  return null;
}
