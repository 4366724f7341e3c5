import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  AuthError,
  BrokenCircuitError,
  PermanentError,
  QuotaExhaustedError,
  RateLimitedError,
  TimeoutError,
  TransientError,
} from '@batchgate/concurrency';
import { Registry } from 'prom-client';
import { runWithRequestContext } from '../context';
import { UpstreamClient, upstreamResponseOf, type UpstreamClientOptions } from './upstream-client';

type Handler = (request: IncomingMessage, response: ServerResponse, body: string) => void;

/** A real HTTP server on a free loopback port; each test sets how it answers. */
class TestUpstream {
  handler: Handler = (_, response) => json(response, 200, { ok: true });
  readonly requests: Array<{ method?: string; url?: string; headers: IncomingMessage['headers']; body: string }> = [];
  /** Requests whose client went away before the answer. */
  aborted = 0;
  private server: Server | undefined;

  async start(): Promise<string> {
    this.server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        this.requests.push({ method: request.method, url: request.url, headers: request.headers, body });
        response.on('close', () => {
          if (!response.writableFinished) this.aborted++;
        });
        this.handler(request, response, body);
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server?.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

function json(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

/** Never answers (the client's timeout or signal must end the request). */
const stall: Handler = () => undefined;

describe('UpstreamClient against a real HTTP server', () => {
  const upstream = new TestUpstream();
  let baseUrl: string;
  let client: UpstreamClient;
  let registry: Registry;
  const make = (options: Partial<UpstreamClientOptions> = {}) =>
    new UpstreamClient({ name: 'provider', baseUrl: `${baseUrl}/api/`, timeoutMs: 2_000, registry, ...options });

  beforeAll(async () => {
    baseUrl = await upstream.start();
  });
  afterAll(() => upstream.stop());
  beforeEach(() => {
    upstream.requests.length = 0;
    upstream.aborted = 0;
    upstream.handler = (_, response) => json(response, 200, { ok: true });
    registry = new Registry();
    client = make();
  });
  afterEach(() => client.close());

  it('sends the request under the base path with its query, JSON body and idempotency key, and returns the answer', async () => {
    upstream.handler = (_, response, body) => json(response, 201, { echo: JSON.parse(body) as unknown });
    const answer = await client.request<{ echo: unknown }>({
      operation: 'publish',
      method: 'POST',
      path: '/articles',
      query: { draft: 1, skipped: undefined },
      json: { title: 'T' },
      idempotencyKey: 'job-1:item-7',
    });
    expect(answer).toMatchObject({ status: 201, body: { echo: { title: 'T' } } });
    expect(upstream.requests).toEqual([
      expect.objectContaining({
        method: 'POST',
        url: '/api/articles?draft=1',
        headers: expect.objectContaining({ 'idempotency-key': 'job-1:item-7', 'content-type': 'application/json' }),
      }),
    ]);
    const metrics = await registry.getSingleMetricAsString('upstream_requests_total');
    expect(metrics).toContain('upstream_requests_total{upstream="provider",operation="publish",status="201",outcome="success"} 1');
  });

  it('aborts a request that outlives its timeout: the server sees the client go away', async () => {
    upstream.handler = stall;
    const startedAt = Date.now();
    await expect(client.request({ operation: 'slow', path: '/slow', timeoutMs: 150 })).rejects.toBeInstanceOf(TimeoutError);
    expect(Date.now() - startedAt).toBeLessThan(1_500);
    await waitUntil(() => upstream.aborted === 1);
    expect(await registry.getSingleMetricAsString('upstream_requests_total')).toContain('status="timeout",outcome="timeout"} 1');
  });

  it("stops at the caller's deadline and on the caller's signal", async () => {
    upstream.handler = stall;
    const deadline = Date.now() + 150;
    await expect(runWithRequestContext({ requestId: 'r1', deadline }, () => client.request({ operation: 'slow', path: '/slow' }))).rejects.toBeInstanceOf(
      TimeoutError,
    );
    expect(Date.now()).toBeLessThan(deadline + 1_000);
    const controller = new AbortController();
    const call = client.request({ operation: 'slow', path: '/slow', signal: controller.signal });
    await waitUntil(() => upstream.requests.length === 2);
    const reason = new Error('caller went away');
    controller.abort(reason);
    await expect(call).rejects.toBe(reason);
    await waitUntil(() => upstream.aborted === 2);
  });

  it('carries the Retry-After of a 429 (seconds) on the RateLimitedError, and keeps the upstream open', async () => {
    upstream.handler = (_, response) => json(response, 429, { code: 429 }, { 'retry-after': '3' });
    const error = await client.request({ operation: 'kline', path: '/k' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBe(3_000);
    expect(upstreamResponseOf(error)).toMatchObject({ status: 429, body: { code: 429 } });
    // One credential's rate limit is not an outage: the next request goes out.
    upstream.handler = (_, response) => json(response, 200, {});
    await expect(client.request({ operation: 'kline', path: '/k' })).resolves.toMatchObject({ status: 200 });
    expect(client.breaker.state).toBe('closed');
  });

  it('pauses the whole upstream until the Retry-After (HTTP date) of a 503, without sending anything', async () => {
    const until = new Date(Math.ceil((Date.now() + 2_000) / 1000) * 1000);
    upstream.handler = (_, response) => json(response, 503, { error: 'maintenance' }, { 'retry-after': until.toUTCString() });
    const error = await client.request({ operation: 'kline', path: '/k' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    const retryAfterMs = (error as RateLimitedError).retryAfterMs ?? 0;
    expect(retryAfterMs).toBeGreaterThan(500);
    expect(retryAfterMs).toBeLessThanOrEqual(3_000);
    const refused = await client.request({ operation: 'kline', path: '/k' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BrokenCircuitError);
    expect((refused as BrokenCircuitError).retryAfterMs).toBeGreaterThan(0);
    expect(upstream.requests).toHaveLength(1);
  });

  it.each([
    [401, AuthError],
    [403, AuthError],
    [402, QuotaExhaustedError],
    [404, PermanentError],
    [408, TimeoutError],
    [422, PermanentError],
    [500, TransientError],
    [502, TransientError],
    [503, TransientError],
  ])('throws HTTP %i as %p with the answer on it', async (status, type) => {
    upstream.handler = (_, response) => json(response, status, { status });
    const error = await client.request({ operation: 'x', path: '/x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(type);
    expect(upstreamResponseOf(error)).toMatchObject({ status, body: { status } });
  });

  it('throws a network error (nobody listening) as a TransientError', async () => {
    const closed = new TestUpstream();
    const url = await closed.start();
    await closed.stop();
    const offline = new UpstreamClient({ name: 'gone', baseUrl: url, timeoutMs: 2_000 });
    await expect(offline.request({ operation: 'x', path: '/' })).rejects.toBeInstanceOf(TransientError);
    await offline.close();
  });

  it('refuses a response body over maxResponseBytes as permanent, having read no more than the bound', async () => {
    upstream.handler = (_, response) => json(response, 200, { blob: 'x'.repeat(64 * 1024) });
    const bounded = make({ maxResponseBytes: 16 * 1024 });
    const error = await bounded.request({ operation: 'x', path: '/big' }).catch((e: unknown) => e);
    await bounded.close();
    expect(upstream.requests).toHaveLength(1); // it was sent, and failed on the answer
    expect(error).toBeInstanceOf(PermanentError);
    expect(String((error as Error).message)).toMatch(/provider: request failed/);
    // The same answer within the default bound is read.
    await expect(client.request({ operation: 'x', path: '/big' })).resolves.toMatchObject({ status: 200 });
  });

  it('opens the breaker after failures in a row, refuses without sending, and closes after a successful probe', async () => {
    client = make({ breaker: { consecutiveFailures: 3, recoveryTimeMs: 200 } });
    upstream.handler = (_, response) => json(response, 500, {});
    for (let i = 0; i < 3; i++) await expect(client.request({ operation: 'x', path: '/x' })).rejects.toBeInstanceOf(TransientError);
    expect(client.breaker.state).toBe('open');
    await expect(client.request({ operation: 'x', path: '/x' })).rejects.toBeInstanceOf(BrokenCircuitError);
    expect(upstream.requests).toHaveLength(3);

    await waitUntil(() => client.breaker.state === 'half-open');
    upstream.handler = (_, response) => setTimeout(() => json(response, 200, {}), 100);
    const probe = client.request({ operation: 'x', path: '/x' });
    // One probe at a time: the others are refused while it runs.
    await expect(client.request({ operation: 'x', path: '/x' })).rejects.toBeInstanceOf(BrokenCircuitError);
    await expect(probe).resolves.toMatchObject({ status: 200 });
    expect(upstream.requests).toHaveLength(4);
    expect(client.breaker.state).toBe('closed');
    expect(await registry.getSingleMetricAsString('concurrency_breaker_state')).toContain('name="provider-upstream"} 0');
  });

  it('makes run() wait out an outage: work admitted before it is not sent, and runs once the upstream is back', async () => {
    client = make({ breaker: { consecutiveFailures: 2, recoveryTimeMs: 300 } });
    upstream.handler = (_, response) => json(response, 500, {});
    let releaseSlot: () => void = () => undefined;
    const slot = new Promise<void>((resolve) => (releaseSlot = resolve));
    // Admitted while the upstream is fine, then waits (for a credential's rate slot, say).
    const waiting = client.run(async () => {
      await slot;
      return client.request({ operation: 'x', path: '/late' });
    }, { waitWhileDownMs: 10_000 });
    for (let i = 0; i < 2; i++) await expect(client.request({ operation: 'x', path: '/x' })).rejects.toBeInstanceOf(TransientError);
    expect(client.breaker.state).toBe('open');
    releaseSlot();
    await new Promise((resolve) => setImmediate(resolve));
    expect(upstream.requests.map((r) => r.url)).toEqual(['/api/x', '/api/x']);
    upstream.handler = (_, response) => json(response, 200, { back: true });
    await expect(waiting).resolves.toMatchObject({ body: { back: true } });
    expect(upstream.requests.map((r) => r.url)).toEqual(['/api/x', '/api/x', '/api/late']);
  });

  it('stops waiting when stopWaiting aborts, rethrowing the outage', async () => {
    client = make({ breaker: { consecutiveFailures: 1, recoveryTimeMs: 5_000 } });
    upstream.handler = (_, response) => json(response, 500, {});
    await expect(client.request({ operation: 'x', path: '/x' })).rejects.toBeInstanceOf(TransientError);
    const stop = new AbortController();
    const waiting = client.run(() => client.request({ operation: 'x', path: '/x' }), { waitWhileDownMs: 60_000, stopWaiting: stop.signal });
    stop.abort(new Error('shutting down'));
    await expect(waiting).rejects.toBeInstanceOf(BrokenCircuitError);
    expect(upstream.requests).toHaveLength(1);
  });

  it('gives up waiting after waitWhileDownMs, and without it refuses at once', async () => {
    client = make({ breaker: { consecutiveFailures: 1, recoveryTimeMs: 5_000 } });
    upstream.handler = (_, response) => json(response, 500, {});
    await expect(client.request({ operation: 'x', path: '/x' })).rejects.toBeInstanceOf(TransientError);
    const work = () => client.request({ operation: 'x', path: '/x' });
    await expect(client.run(work)).rejects.toBeInstanceOf(BrokenCircuitError);
    await expect(client.run(work, { waitWhileDownMs: 1_000 })).rejects.toBeInstanceOf(BrokenCircuitError);
    expect(upstream.requests).toHaveLength(1);
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
