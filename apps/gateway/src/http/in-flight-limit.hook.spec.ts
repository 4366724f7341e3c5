import Fastify, { type FastifyInstance } from 'fastify';
import { InFlightLimit } from '@batchgate/platform/overload';
import { waitFor } from '@batchgate/testing';
import { shedBeyondInFlightLimit } from './in-flight-limit.hook';

/** The gateway's admission bound over real HTTP: a bare Fastify with the hook and a route that waits. */
const waitUntil = (condition: () => boolean) => waitFor(() => condition() || undefined, { timeoutMs: 5_000, intervalMs: 5 });

describe('in-flight limit hook', () => {
  let app: FastifyInstance;
  let origin: string;
  const limit = new InFlightLimit(2);
  const waiting: Array<() => void> = [];

  beforeAll(async () => {
    app = Fastify();
    shedBeyondInFlightLimit(app, limit);
    app.get('/slow', () => new Promise((resolve) => waiting.push(() => resolve({ ok: true }))));
    app.get('/healthz', async () => ({ status: 'ok' }));
    origin = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(() => app.close());

  it('answers 503 + Retry-After at once beyond the limit, never for probes, and admits again once a slot frees', async () => {
    const admitted = [fetch(`${origin}/slow`), fetch(`${origin}/slow`)];
    await waitUntil(() => waiting.length === 2);

    const shed = await fetch(`${origin}/slow`);
    expect(shed.status).toBe(503);
    expect(shed.headers.get('retry-after')).toBe('1');
    expect(await shed.json()).toMatchObject({ error: { code: 'SERVICE.OVERLOADED', status: 'UNAVAILABLE' } });
    expect((await fetch(`${origin}/healthz`)).status).toBe(200);

    waiting.shift()?.();
    expect((await admitted[0])?.status).toBe(200);
    await waitUntil(() => limit.inFlight === 1);
    const next = fetch(`${origin}/slow`);
    await waitUntil(() => waiting.length === 2);
    for (const release of waiting.splice(0)) release();
    expect((await next).status).toBe(200);
    expect((await admitted[1])?.status).toBe(200);
    await waitUntil(() => limit.inFlight === 0);
  });
});
