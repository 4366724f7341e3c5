import { waitFor } from '@batchgate/testing';
import { startStack, type Stack } from './stack';

/**
 * The authorization matrix, generated from the gateway's OpenAPI document: every secured
 * operation that addresses a resource by a path id, or that lists (a GET without one), is called
 * as the resource's owner, as another user of the owner's tenant and as the same user name in
 * another tenant — and as a user and a tenant whose names differ from the owner's only in case,
 * which the databases' default collation would call equal (BinaryOwnerColumns). A route added to the API is in the matrix without anyone editing this file; it
 * only needs a fixture below (how to make a resource of the owner and read it back), and the
 * test fails until it has one.
 *
 * Who may see what: tokens, stocks, failures, stored bars, persona tasks and personas are their
 * tenant's (every user of it with the permission), jobs their user's. So an id operation answers the owner — and, on a
 * per-tenant route, a colleague — with success; anybody else gets 404 with the error body, and
 * the owner reads the resource back unchanged. A list never holds a row the caller may not see.
 */

const PERMS = ['tokens:admin', 'stock:sync:run', 'stock:sync:list', 'stock:sync:retry', 'role:create', 'role:list', 'offline:run', 'publish:run', 'publish:list'];
const OWNER = { sub: 'alice', tenant: 'acme' };
/** Each actor's claims, and whom it is to the owner: the owner, a colleague (another user of the tenant) or a stranger (another tenant). */
const ACTORS = {
  owner: { claims: OWNER, is: 'owner' },
  colleague: { claims: { sub: 'bob', tenant: 'acme' }, is: 'colleague' },
  otherTenant: { claims: { sub: 'alice', tenant: 'globex' }, is: 'stranger' },
  colleagueInOtherCase: { claims: { sub: 'Alice', tenant: 'acme' }, is: 'colleague' },
  otherTenantInOtherCase: { claims: { sub: 'alice', tenant: 'ACME' }, is: 'stranger' },
} as const;
type Actor = keyof typeof ACTORS;
/** Refused actors first (each on its own fresh resource), the owner last. */
const ACTOR_ORDER: Actor[] = ['otherTenant', 'otherTenantInOtherCase', 'colleague', 'colleagueInOtherCase', 'owner'];
const OTHERS = ACTOR_ORDER.filter((actor) => actor !== 'owner');
const SERVICE_DATABASES = ['token-manager', 'kline-sync', 'role', 'offline', 'publish'];
type Scope = 'user' | 'tenant';

interface IdFixture {
  scope: Scope;
  /** A fresh resource of the owner; its id. */
  create: () => Promise<string>;
  body?: unknown;
  /** The owner's success status. */
  ok: number;
  /** What the owner reads of the resource: the same before and after a refused call. */
  observe: (id: string) => Promise<unknown>;
}

interface ListFixture {
  scope: Scope;
  query: string;
  /** The keys of the rows of an answer. */
  rows: (body: unknown) => string[];
  /**
   * A live list (server-sent events that go on while the client listens): its rows are those of
   * its first event, read and checked against the document before the client disconnects.
   */
  stream?: true;
}

type Json = Record<string, unknown>;

describe('authorization matrix, generated from the OpenAPI document', () => {
  let stack: Stack;
  const bearer: Partial<Record<Actor, string>> = {};
  let secrets = 0;

  const call = (actor: Actor, method: string, path: string, body?: unknown) =>
    stack.fetch(path, {
      method: method.toUpperCase(),
      headers: {
        authorization: `Bearer ${bearer[actor]}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const json = async (actor: Actor, method: string, path: string, body?: unknown): Promise<Json> => {
    const response = await call(actor, method, path, body);
    if (response.status >= 300) throw new Error(`${method} ${path} as ${actor}: ${response.status} ${await response.text()}`);
    return (await response.json()) as Json;
  };

  /** The data of a live list's first event (the stream goes on while the client listens). */
  const firstEvent = async (actor: Actor, path: string): Promise<unknown> => {
    const { status, data } = await stack.firstEvent(path, { headers: { authorization: `Bearer ${bearer[actor]}` } });
    expect({ case: `${path} as ${actor}`, status }).toEqual({ case: `${path} as ${actor}`, status: 200 });
    return data;
  };

  const createToken = async () =>
    String((await json('owner', 'post', '/api/tokens', { provider: 'itick', secret: `matrix-${Date.now()}-${++secrets}`, dailyLimit: 100 }))['id']);
  const ownersToken = async (id: string) => {
    const page = await json('owner', 'get', '/api/tokens?size=100');
    const token = (page['items'] as Json[]).find((t) => String(t['id']) === id);
    return token ? { status: token['status'], dailyLimit: token['dailyLimit'] } : 'deleted';
  };
  /** A job that keeps running (the provider answers slowly), so it can still be cancelled. */
  const runningJob = async () => String((await json('owner', 'post', '/api/stock/sync/batch', { market: 'SH', startDate: '2026-03-02', endDate: '2026-03-03' }))['id']);
  /** A finished job with stocks to retry (cancelled before they were pulled). */
  const cancelledJob = async () => {
    const id = await runningJob();
    await json('owner', 'post', `/api/stock/sync/jobs/${id}/cancel`);
    return id;
  };
  const ownersJob = async (id: string) => {
    const job = await json('owner', 'get', `/api/stock/sync/jobs/${id}`);
    return { status: job['status'] === 'cancelled' ? 'cancelled' : 'not cancelled', finished: job['finishedAt'] !== '', total: (job['progress'] as Json)['total'] };
  };

  /** A persona task of the owner, open for a while (the AI answers slowly); each has its own strategy, so none is deduplicated. */
  let strategies = 0;
  const personaTask = async () =>
    String((await json('owner', 'post', '/api/roles', { tenant_id: OWNER.tenant, task_id: 'matrix-task', strategy_id: `m${++strategies}` }))['request_id']);
  const ownersPersonaTask = async (id: string) => ({ cancelled: (await json('owner', 'get', `/api/roles/tasks/${id}`))['status'] === 'cancelled' });
  const persona = async () => {
    const id = await personaTask();
    const task = await waitFor(
      async () => {
        const current = await json('owner', 'get', `/api/roles/tasks/${id}`);
        return current['status'] === 'success' ? current : undefined;
      },
      { timeoutMs: 20_000, what: `persona task ${id} to succeed` },
    );
    return String(task['role_id']);
  };
  const ownersPersona = async (id: string) => (await json('owner', 'get', `/api/roles/${id}`))['persona'];
  /** A de-list batch that keeps running (the marketplace answers slowly), so it can still be cancelled. */
  let products = 910_000;
  const runningBatch = async () =>
    String((await json('owner', 'post', '/api/temu/seller/offline?async=true', { productIds: [++products, ++products] }))['batchId']);
  /** An ended batch with products to retry (cancelled before they were de-listed); its event stream ends at once. */
  const cancelledBatch = async () => {
    const id = await runningBatch();
    await json('owner', 'post', `/api/temu/seller/offline/${id}/cancel`);
    return id;
  };
  const ownersBatch = async (id: string) => {
    const batch = await json('owner', 'get', `/api/temu/seller/offline/${id}`);
    return { status: batch['status'] === 'cancelled' ? 'cancelled' : 'not cancelled', finished: batch['finishedAt'] !== '', total: (batch['progress'] as Json)['total'] };
  };
  /** A task that waits for a running slot (the owner's two slots are held by slow publishes), so it can be cancelled. */
  let articles = 0;
  const pendingTask = async () =>
    String((await json('owner', 'post', '/api/publish_zhihu', { title: `matrix ${++articles}`, content: 'body', article_id: articles }))['task_id']);
  /** A task that has ended (cancelled), so it can be retried and its event stream ends at once. */
  const cancelledTask = async () => {
    const id = await pendingTask();
    await json('owner', 'post', `/api/publish_task/${id}/cancel`);
    return id;
  };
  const ownersTask = async (id: string) => {
    const { task } = (await json('owner', 'get', `/api/publish_task/${id}`)) as { task: Json };
    return { status: task['status'], attempts: task['attempts'] };
  };

  /** Keyed by "METHOD path" as the document names the operation. */
  const ID_FIXTURES: Record<string, IdFixture> = {
    'PATCH /api/tokens/{id}': { scope: 'tenant', create: createToken, body: { dailyLimit: 7 }, ok: 200, observe: ownersToken },
    'DELETE /api/tokens/{id}': { scope: 'tenant', create: createToken, ok: 204, observe: ownersToken },
    'GET /api/stock/sync/jobs/{id}': { scope: 'user', create: runningJob, ok: 200, observe: ownersJob },
    'POST /api/stock/sync/jobs/{id}/cancel': { scope: 'user', create: runningJob, ok: 200, observe: ownersJob },
    'POST /api/stock/sync/jobs/{id}/retry': { scope: 'user', create: cancelledJob, ok: 202, observe: ownersJob },
    'GET /api/roles/tasks/{request_id}': { scope: 'tenant', create: personaTask, ok: 200, observe: ownersPersonaTask },
    'POST /api/roles/tasks/{request_id}/cancel': { scope: 'tenant', create: personaTask, ok: 200, observe: ownersPersonaTask },
    'GET /api/roles/tasks/{request_id}/events': { scope: 'tenant', create: personaTask, ok: 200, observe: ownersPersonaTask },
    'GET /api/roles/{id}': { scope: 'tenant', create: persona, ok: 200, observe: ownersPersona },
    'GET /api/temu/seller/offline/{batchId}': { scope: 'user', create: runningBatch, ok: 200, observe: ownersBatch },
    'GET /api/temu/seller/offline/{batchId}/events': { scope: 'user', create: cancelledBatch, ok: 200, observe: ownersBatch },
    'POST /api/temu/seller/offline/{batchId}/cancel': { scope: 'user', create: runningBatch, ok: 200, observe: ownersBatch },
    'POST /api/temu/seller/offline/{batchId}/retry': { scope: 'user', create: cancelledBatch, ok: 202, observe: ownersBatch },
    'GET /api/publish_task/{task_id}': { scope: 'user', create: pendingTask, ok: 200, observe: ownersTask },
    'POST /api/publish_task/{task_id}/cancel': { scope: 'user', create: pendingTask, ok: 200, observe: ownersTask },
    'POST /api/publish_task/{task_id}/retry': { scope: 'user', create: cancelledTask, ok: 202, observe: ownersTask },
    'GET /api/publish_task/{task_id}/events': { scope: 'user', create: cancelledTask, ok: 200, observe: ownersTask },
  };
  const ids = (list: unknown) => ((list ?? []) as Json[]).map((row) => String(row['id']));
  const LIST_FIXTURES: Record<string, ListFixture> = {
    'GET /api/tokens': { scope: 'tenant', query: '?size=100', rows: (body) => ids((body as Json)['items']) },
    // The statistics hold no rows: the owner's count of ended tasks stands for them (a colleague's and another tenant's own count is 0).
    'GET /api/publish_stats': { scope: 'user', query: '', rows: (body) => { const ended = ((body as Json)['user'] as Json)['total']; return ended ? [`ended tasks: ${String(ended)}`] : []; } },
    'GET /api/publish_tasks/events': {
      scope: 'user',
      query: '?size=100',
      stream: true,
      rows: (body) => ((body as Json)['tasks'] as Json[]).map((task) => String(task['task_id'])),
    },
    'GET /api/publish_tasks': {
      scope: 'user',
      query: '?size=100',
      rows: (body) => ((body as Json)['tasks'] as Json[]).map((task) => String(task['task_id'])),
    },
    'GET /api/stock/sync/jobs': { scope: 'user', query: '?size=100', rows: (body) => ids((body as Json)['items']) },
    'GET /api/stock/sync/failure/list': { scope: 'tenant', query: '?size=100', rows: (body) => ids(((body as Json)['data'] as Json)['records']) },
    'GET /api/roles/tasks': { scope: 'tenant', query: '?size=100', rows: (body) => ((body as Json)['items'] as Json[]).map((t) => String(t['request_id'])) },
    'GET /api/temu/seller/offline': { scope: 'user', query: '?size=100', rows: (body) => ((body as Json)['items'] as Json[]).map((batch) => String(batch['batchId'])) },
    'GET /api/stock/kline': {
      scope: 'tenant',
      query: '?market=SH&code=600000&kType=8',
      rows: (body) => ((body as Json)['bars'] as Json[]).map((bar) => String(bar['t'])),
    },
  };

  const idOperations: Array<{ key: string; method: string; path: string }> = [];
  const listOperations: Array<{ key: string; method: string; path: string }> = [];

  beforeAll(async () => {
    stack = await startStack({ services: ['kline-sync', 'role', 'offline', 'publish'], env: { publish: { PUBLISH_USER_RATE_LIMIT: '1000' } } });
    for (const [actor, { claims }] of Object.entries(ACTORS)) bearer[actor as Actor] = await stack.mintToken({ ...claims, perms: PERMS });

    const document = (await (await stack.fetch('/api/docs/openapi.json')).json()) as {
      security?: unknown[];
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    };
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        if ((operation.security ?? document.security ?? []).length === 0) continue;
        const entry = { key: `${method.toUpperCase()} ${path}`, method, path };
        if (path.includes('{')) idOperations.push(entry);
        else if (method === 'get') listOperations.push(entry);
      }
    }

    // The owner's data: a token the provider knows, two stocks (one the provider does not know),
    // and a finished job, which leaves stored bars and a failure.
    await fetch(`${stack.services.url('upstream-sim', 'http')}/__sim/config`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ market: { tokens: [{ token: 'matrix-itick', ratePerSecond: 50 }], unknownStocks: ['SH:699999'] } }),
    });
    await json('owner', 'post', '/api/tokens', { provider: 'itick', secret: 'matrix-itick', rateLimitPerSecond: 50 });
    await json('owner', 'post', '/api/stock/import', { stocks: [{ code: '600000', market: 'SH' }, { code: '699999', market: 'SH' }] });
    const first = String((await json('owner', 'post', '/api/stock/sync/batch', { market: 'SH', startDate: '2026-01-05', endDate: '2026-01-09' }))['id']);
    await waitFor(async () => ((await json('owner', 'get', `/api/stock/sync/jobs/${first}`))['finishedAt'] !== '' ? true : undefined), {
      timeoutMs: 30_000,
      what: 'the owner\'s first job to finish',
    });
    // The owner's persona profile, and a persona task (for the lists).
    await stack.services.database('role').query('INSERT INTO base_info (tenant, task_id, name, description) VALUES (?, ?, ?, ?)', [OWNER.tenant, 'matrix-task', 'Ann', 'analyst']);
    await personaTask();
    // A published article of the owner's (the publish statistics).
    const published = await pendingTask();
    await waitFor(async () => (((await json('owner', 'get', `/api/publish_task/${published}`))['task'] as Json)['status'] === 'success' ? true : undefined), {
      what: "the owner's first publish to succeed",
    });
    // A de-list batch of the owner's, ended (synchronous).
    await json('owner', 'post', '/api/temu/seller/offline', { productIds: [900_001] });
    // From now on the providers answer slowly: the jobs, persona tasks and batches the fixtures
    // start stay running (a persona still ends within seconds, for the persona fixture).
    await fetch(`${stack.services.url('upstream-sim', 'http')}/__sim/config`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        routes: {
          'market.kline': { latency: { kind: 'fixed', ms: 30_000 } },
          'chat.completions': { latency: { kind: 'fixed', ms: 1_500 } },
          'marketplace.invoke': { latency: { kind: 'fixed', ms: 30_000 } },
          'publish.article': { latency: { kind: 'fixed', ms: 30_000 } },
        },
      }),
    });
    // Two slow publishes hold the owner's two running slots: the fixtures' tasks wait, pending.
    for (let n = 0; n < 2; n++) await pendingTask();
  }, 120_000);
  afterAll(async () => {
    if (!stack) return;
    // The providers answer promptly again, so the work still running ends within the services' drain.
    await fetch(`${stack.services.url('upstream-sim', 'http')}/__sim/config`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ routes: { 'market.kline': { latency: { kind: 'fixed', ms: 0 } }, 'marketplace.invoke': { latency: { kind: 'fixed', ms: 0 } } } }),
    }).catch(() => undefined);
    await stack.stop();
  }, 60_000);

  it('has a fixture for every documented operation with a path id or a list', () => {
    expect(idOperations.length).toBeGreaterThan(0);
    expect(listOperations.length).toBeGreaterThan(0);
    expect(idOperations.map((op) => op.key).filter((key) => !ID_FIXTURES[key])).toEqual([]);
    expect(listOperations.map((op) => op.key).filter((key) => !LIST_FIXTURES[key])).toEqual([]);
  });

  it('answers an id operation to its owner (and on a per-tenant route a colleague); anybody else gets 404 and changes nothing', async () => {
    const cases: string[] = [];
    for (const operation of idOperations) {
      const fixture = ID_FIXTURES[operation.key];
      if (!fixture) continue; // reported by the test above
      for (const actor of ACTOR_ORDER) {
        const { is } = ACTORS[actor];
        const allowed = is === 'owner' || (is === 'colleague' && fixture.scope === 'tenant');
        const id = await fixture.create();
        const before = await fixture.observe(id);
        const response = await call(actor, operation.method, operation.path.replace(/\{[^}]+\}/g, id), fixture.body);
        const outcome = { case: `${operation.key} as ${actor}`, status: response.status };
        if (allowed) {
          expect(outcome).toEqual({ ...outcome, status: fixture.ok });
        } else {
          expect(outcome).toEqual({ ...outcome, status: 404 });
          expect(await response.json()).toMatchObject({ error: { status: 'NOT_FOUND', code: expect.any(String), message: expect.any(String) } });
          expect({ case: outcome.case, after: await fixture.observe(id) }).toEqual({ case: outcome.case, after: before });
        }
        cases.push(outcome.case);
      }
    }
    expect(cases).toHaveLength(idOperations.length * ACTOR_ORDER.length);
    console.info(`authorization matrix: ${idOperations.length} id operations × ${ACTOR_ORDER.length} actors = ${cases.length} cases`);
    // 85 cases, each a request and a read of the row before and after: ~30 s on a slow machine.
  }, 120_000);

  it('never lists a row to a caller who may not see it', async () => {
    const cases: string[] = [];
    for (const operation of listOperations) {
      const fixture = LIST_FIXTURES[operation.key];
      if (!fixture) continue;
      const path = `${operation.path}${fixture.query}`;
      const rowsOf = async (actor: Actor) => {
        if (fixture.stream) return fixture.rows(await firstEvent(actor, path));
        const response = await call(actor, 'get', path);
        expect({ case: `${operation.key} as ${actor}`, status: response.status }).toEqual({ case: `${operation.key} as ${actor}`, status: 200 });
        return fixture.rows(await response.json());
      };
      const owners = await rowsOf('owner');
      expect({ case: operation.key, ownerRows: owners.length > 0 }).toEqual({ case: operation.key, ownerRows: true });
      for (const actor of OTHERS) {
        const seen = new Set(await rowsOf(actor));
        const sharesOwners = ACTORS[actor].is === 'colleague' && fixture.scope === 'tenant';
        const ownersSeen = owners.filter((row) => seen.has(row));
        expect({ case: `${operation.key} as ${actor}`, ownersSeen }).toEqual({ case: `${operation.key} as ${actor}`, ownersSeen: sharesOwners ? owners : [] });
        cases.push(`${operation.key} as ${actor}`);
      }
      cases.push(`${operation.key} as owner`);
    }
    expect(cases).toHaveLength(listOperations.length * ACTOR_ORDER.length);
    console.info(`authorization matrix: ${listOperations.length} list operations × ${ACTOR_ORDER.length} actors = ${cases.length} cases`);
  });

  it("compares every service table's owner columns byte for byte, so names that differ only in case are two owners", async () => {
    for (const service of SERVICE_DATABASES) {
      const columns = await stack.services
        .database(service)
        .query<{ TABLE_NAME: string; COLUMN_NAME: string; COLLATION_NAME: string }>(
          "SELECT TABLE_NAME, COLUMN_NAME, COLLATION_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND COLUMN_NAME IN ('tenant', 'user_id') ORDER BY 1, 2",
        );
      expect({ service, owned: columns.length > 0 }).toEqual({ service, owned: true });
      expect({ service, notBinary: columns.filter((c) => c.COLLATION_NAME !== 'utf8mb4_bin').map((c) => `${c.TABLE_NAME}.${c.COLUMN_NAME}`) }).toEqual({ service, notBinary: [] });
    }
  });
});
