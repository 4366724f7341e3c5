import { randomBytes } from 'node:crypto';
import type { TokenCreated } from '@batchgate/contracts/events/v1/events';
import { queryTestDatabase, readStreamEvents, streamLastSeq, waitFor } from '@batchgate/testing';
import { startStack, type Stack } from './stack';

const USER_RATE_LIMIT = 100;

/** Black-box: HTTP → gateway → gRPC → token-manager → MySQL + outbox → NATS, all real processes. */
describe('POST/GET /api/tokens through the whole stack', () => {
  let stack: Stack;
  let admin: string;

  beforeAll(async () => {
    stack = await startStack({ env: { gateway: { USER_RATE_LIMIT: String(USER_RATE_LIMIT) }, 'token-manager': { LOG_LEVEL: 'debug' } } });
    admin = await stack.mintToken({ perms: ['tokens:admin'] });
  }, 60_000);

  const post = (body: unknown, bearer?: string, headers: Record<string, string> = {}) =>
    stack.fetch(`/api/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  it('creates a token (row stored, secret masked) and token.created reaches NATS with the request id', async () => {
    const provider = `e2e${randomBytes(4).toString('hex')}`;
    const seqBefore = await streamLastSeq(stack.nats, 'TOKENS_EVENTS');
    const response = await post({ provider, name: 'first', secret: 'itk-9f8e7d6c5b4a', dailyLimit: 500 }, admin, {
      'x-request-id': 'e2e-req-0001',
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('x-request-id')).toBe('e2e-req-0001');
    const body = (await response.json()) as { id: number; secretMask: string; status: string; dailyLimit: number };
    expect(body).toMatchObject({ secretMask: '…5b4a', status: 'active', dailyLimit: 500 });
    expect(JSON.stringify(body)).not.toContain('9f8e7d6c');

    const rows = await queryTestDatabase<{ provider: string }>(stack.services.database('token-manager').name, 'SELECT provider FROM api_token WHERE id = ?', [body.id]);
    expect(rows).toEqual([{ provider }]);

    const events = await waitFor(async () => {
      const mine = (await readStreamEvents<TokenCreated>(stack.nats, 'TOKENS_EVENTS', 'tokens.token.created', seqBefore)).filter(
        (e) => e.payload.provider === provider,
      );
      return mine.length > 0 ? mine : undefined;
    });
    expect(events).toHaveLength(1);
    expect(events[0]?.payload.tokenId).toBe(body.id);
    expect(events[0]?.headers['x-request-id']).toBe('e2e-req-0001');
    // The same id is on the service's own log line for the call (an access line: debug level).
    const rpcLine = stack.services.process('token-manager')
      .output()
      .split('\n')
      .find((line) => line.includes('"requestId":"e2e-req-0001"') && line.includes('CreateToken'));
    expect(rpcLine).toBeDefined();

    // The same secret again, for the same tenant and provider: 409, nothing stored.
    const repeated = await post({ provider, name: 'again', secret: 'itk-9f8e7d6c5b4a' }, admin);
    expect(repeated.status).toBe(409);
    expect(await repeated.json()).toMatchObject({ error: { code: 'TOKEN.ALREADY_EXISTS', status: 'ALREADY_EXISTS', details: { id: body.id } } });

    const list = await stack.fetch(`/api/tokens?provider=${provider}`, { headers: { authorization: `Bearer ${admin}` } });
    expect(list.status).toBe(200);
    const page = (await list.json()) as { items: Array<{ id: number; secretMask: string }>; total: number };
    expect(page.total).toBe(1);
    expect(page.items).toEqual([expect.objectContaining({ id: body.id, secretMask: '…5b4a' })]);
  });

  it('answers 401 without a token, with a bad or expiry-less token', async () => {
    const good = { provider: 'itick', secret: 'abcdefghijkl' };
    for (const bearer of [undefined, 'not-a-jwt', await stack.mintToken({ perms: ['tokens:admin'], expiresIn: null })]) {
      const response = await post(good, bearer);
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ error: { code: 'AUTH.UNAUTHENTICATED', status: 'UNAUTHENTICATED' } });
    }
  });

  it('answers 403 when the token lacks tokens:admin', async () => {
    const response = await post({ provider: 'itick', secret: 'abcdefghijkl' }, await stack.mintToken({ perms: ['stock:sync:run'] }));
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ error: { code: 'AUTH.PERMISSION_DENIED', details: { missing: ['tokens:admin'] } } });
  });

  it('answers 400 for unknown fields, bad values, malformed JSON, and 413 for a body over the limit', async () => {
    const unknownField = await post({ provider: 'itick', secret: 'abcdefghijkl', colour: 'red' }, admin);
    expect(unknownField.status).toBe(400);
    expect(await unknownField.json()).toMatchObject({
      error: { code: 'REQUEST.INVALID', details: { fields: [{ field: 'colour' }] } },
    });
    const badValue = await post({ provider: 'itick', secret: '', dailyLimit: -5 }, admin);
    expect(badValue.status).toBe(400);
    const fields = ((await badValue.json()) as { error: { details: { fields: Array<{ field: string }> } } }).error.details.fields;
    expect(fields.map((f) => f.field).sort()).toEqual(['dailyLimit', 'secret']);
    // Fastify's own errors (malformed JSON, body over the limit) reach the same exception filter.
    const malformed = await post('{"provider":', admin);
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ error: { code: 'REQUEST.INVALID', requestId: expect.any(String) } });
    // An empty JSON body is no body: a route that needs one names what is missing.
    const empty = await post('', admin);
    expect(empty.status).toBe(400);
    expect(await empty.json()).toMatchObject({ error: { code: 'REQUEST.INVALID' } });
    const huge = await post({ provider: 'itick', secret: 'x'.repeat(20_000) }, admin);
    expect(huge.status).toBe(413);
    expect(await huge.json()).toMatchObject({ error: { code: 'REQUEST.TOO_LARGE' } });
  });

  it('updates limits and status, soft-deletes, and maps NOT_FOUND to 404', async () => {
    const provider = `upd${randomBytes(4).toString('hex')}`;
    const created = (await (await post({ provider, secret: 'abcdefghijkl' }, admin)).json()) as { id: number };
    const auth = { authorization: `Bearer ${admin}`, 'content-type': 'application/json' };
    const patch = (id: number | string, body: unknown) =>
      stack.fetch(`/api/tokens/${id}`, { method: 'PATCH', headers: auth, body: JSON.stringify(body) });

    const updated = await patch(created.id, { status: 'disabled', dailyLimit: 10, rateLimitPerSecond: 3 });
    expect(updated.status).toBe(200);
    expect(await updated.json()).toMatchObject({ id: created.id, status: 'disabled', dailyLimit: 10, rateLimitPerSecond: 3 });
    expect((await patch(created.id, {})).status).toBe(400);
    expect((await patch('abc', { dailyLimit: 1 })).status).toBe(400);
    const missing = await patch(99_999_999, { dailyLimit: 1 });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'TOKEN.NOT_FOUND', status: 'NOT_FOUND' } });

    const bearer = { authorization: `Bearer ${admin}` };
    const removed = await stack.fetch(`/api/tokens/${created.id}`, { method: 'DELETE', headers: bearer });
    expect(removed.status).toBe(204);
    const list = (await (await stack.fetch(`/api/tokens?provider=${provider}`, { headers: auth })).json()) as {
      total: number;
    };
    expect(list.total).toBe(0);
    expect((await stack.fetch(`/api/tokens/${created.id}`, { method: 'DELETE', headers: bearer })).status).toBe(404);
  });

  it("keeps each tenant's tokens to itself: another tenant's admin gets 404 and changes nothing", async () => {
    const provider = `ten${randomBytes(4).toString('hex')}`;
    const created = (await (await post({ provider, secret: 'acme-secret-0001', dailyLimit: 7 }, admin)).json()) as { id: number };
    const intruder = { authorization: `Bearer ${await stack.mintToken({ sub: 'mallory', tenant: 'globex', perms: ['tokens:admin'] })}` };
    const patched = await stack.fetch(`/api/tokens/${created.id}`, {
      method: 'PATCH',
      headers: { ...intruder, 'content-type': 'application/json' },
      body: JSON.stringify({ dailyLimit: 1 }),
    });
    expect(patched.status).toBe(404);
    expect(await patched.json()).toMatchObject({ error: { code: 'TOKEN.NOT_FOUND', status: 'NOT_FOUND' } });
    expect((await stack.fetch(`/api/tokens/${created.id}`, { method: 'DELETE', headers: intruder })).status).toBe(404);
    const theirs = (await (await stack.fetch(`/api/tokens?provider=${provider}`, { headers: intruder })).json()) as { total: number };
    expect(theirs.total).toBe(0);

    const ours = (await (await stack.fetch(`/api/tokens?provider=${provider}`, { headers: { authorization: `Bearer ${admin}` } })).json()) as {
      items: Array<{ id: number; dailyLimit: number; status: string }>;
    };
    expect(ours.items).toEqual([expect.objectContaining({ id: created.id, dailyLimit: 7, status: 'active' })]);
  });

  it('serves health, readiness, metrics and the OpenAPI document', async () => {
    expect((await stack.fetch(`/healthz`)).status).toBe(200);
    expect((await stack.fetch(`/readyz`)).status).toBe(200);
    const gatewayMetrics = await (await stack.fetch(`/metrics`)).text();
    expect(gatewayMetrics).toMatch(/http_server_requests_total\{method="POST",route="\/api\/tokens",status="201",service="gateway"\}/);
    expect(gatewayMetrics).toMatch(/grpc_client_handled_total\{method="\/tokens\.v1\.TokenManagerService\/CreateToken",code="OK"/);
    const tokenManagerMetrics = await (await fetch(`${stack.services.url('token-manager', 'ops')}/metrics`)).text();
    // Token usage, read from api_token when scraped (the first test created a token "first" with a limit of 500).
    expect(tokenManagerMetrics).toMatch(/token_manager_token_daily_limit\{provider="e2e[0-9a-f]+",token_id="\d+",token_name="first",service="token-manager"\} 500/);
    expect(tokenManagerMetrics).toMatch(/token_manager_token_daily_used\{provider="e2e[0-9a-f]+",token_id="\d+",token_name="first",service="token-manager"\} 0/);
    expect(tokenManagerMetrics).toMatch(/token_manager_tokens\{provider="e2e[0-9a-f]+",status="active",service="token-manager"\} 1/);
    expect(tokenManagerMetrics).not.toContain('itk-9f8e7d6c5b4a');
    const openapi = (await (await stack.fetch(`/api/docs/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(openapi.paths)).toContain('/api/tokens');
    expect((await stack.fetch(`/api/docs`)).status).toBe(200);
  });

  it('limits each user to USER_RATE_LIMIT requests per window: 429 with Retry-After, other users unaffected', async () => {
    const flooder = await stack.mintToken({ sub: 'flooder', perms: ['tokens:admin'] });
    const list = (bearer: string) => stack.fetch(`/api/tokens?size=1`, { headers: { authorization: `Bearer ${bearer}` } });
    const first = await list(flooder);
    // The allowance left, as @nestjs/throttler's guard named the headers for a throttler `user`.
    expect([first.status, first.headers.get('x-ratelimit-limit-user'), first.headers.get('x-ratelimit-remaining-user'), first.headers.get('x-ratelimit-reset-user')]).toEqual([
      200,
      String(USER_RATE_LIMIT),
      String(USER_RATE_LIMIT - 1),
      '60',
    ]);
    const statuses = [];
    for (let i = 1; i < USER_RATE_LIMIT; i++) statuses.push((await list(flooder)).status);
    expect(statuses.every((status) => status === 200)).toBe(true);

    const limited = await list(flooder);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers.get('retry-after-user'))).toBeGreaterThanOrEqual(1);
    expect(limited.headers.get('x-ratelimit-remaining-user')).toBeNull();
    expect(await limited.json()).toMatchObject({ error: { code: 'GATEWAY.RATE_LIMITED', status: 'RESOURCE_EXHAUSTED', details: { limit: USER_RATE_LIMIT, windowSeconds: 60 } } });
    // The same name in another tenant is another user.
    expect((await list(await stack.mintToken({ sub: 'flooder', tenant: 'other', perms: ['tokens:admin'] }))).status).toBe(200);
    expect((await list(admin)).status).toBe(200);
    expect((await stack.fetch(`/healthz`)).status).toBe(200);
  });

  it('maps a gRPC UNAVAILABLE to 503 and shuts every process down cleanly on SIGTERM', async () => {
    const tokenManagerExit = await stack.services.process('token-manager').stop();
    expect(tokenManagerExit).toBe(0);
    const response = await post({ provider: 'itick', secret: 'abcdefghijkl' }, admin);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: { status: 'UNAVAILABLE' } });
    await expect(stack.stop()).resolves.toBeUndefined();
  });
});
