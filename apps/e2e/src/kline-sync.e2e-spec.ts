import { waitFor } from '@batchgate/testing';
import { startStack, type Stack } from './stack';

/** The kline-sync REST routes through the gateway, against upstream-sim over HTTP. */
describe('kline-sync through the gateway', () => {
  let stack: Stack;
  let bearer: Record<string, string>;

  beforeAll(async () => {
    stack = await startStack({ services: ['kline-sync'] });
    const token = await stack.mintToken({ perms: ['tokens:admin', 'stock:sync:run', 'stock:sync:list', 'stock:sync:retry'] });
    bearer = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    await fetch(`${stack.services.url('upstream-sim', 'http')}/__sim/config`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ market: { tokens: [{ token: 'e2e-itick', ratePerSecond: 50 }], unknownStocks: ['SH:699999'] } }),
    });
    await post('/api/tokens', { provider: 'itick', secret: 'e2e-itick', rateLimitPerSecond: 50 });
  }, 90_000);
  afterAll(() => stack.stop());

  const post = (path: string, body: unknown, headers = bearer) =>
    stack.fetch(path, { method: 'POST', headers, body: JSON.stringify(body) });
  const get = (path: string, headers = bearer) => stack.fetch(path, { headers });
  /** The job once it has finished (its `finishedAt` set), as its owner reads it. */
  const finishedJob = <T extends { finishedAt: string }>(id: string, headers = bearer) =>
    waitFor(
      async () => {
        const current = (await (await get(`/api/stock/sync/jobs/${id}`, headers)).json()) as T;
        return current.finishedAt ? current : undefined;
      },
      { timeoutMs: 30_000, what: `job ${id} to finish` },
    );

  it('imports stocks, runs a job to completion, lists failures in the seed shape, serves stored bars', async () => {
    const imported = await post('/api/stock/import', { stocks: [{ code: '600000', market: 'SH' }, { code: '600036', market: 'SH' }, { code: '699999', market: 'SH' }] });
    expect(await imported.json()).toEqual({ inserted: 3, updated: 0 });

    const accepted = await post('/api/stock/sync/batch', { market: 'SH', startDate: '2026-01-05', endDate: '2026-01-09' });
    expect(accepted.status).toBe(202);
    // Stored and answered; planned (on the tenant's tokens) after the answer.
    const job = (await accepted.json()) as { id: string; status: string };
    expect(job.status).toBe('queued');

    type Planned = { finishedAt: string; status: string; plan: { threads: number; tokensPerThread: number[] }; progress: { done: number; failed: number } };
    const finished = await finishedJob<Planned>(job.id);
    expect(finished).toMatchObject({ status: 'partial', progress: { done: 3, failed: 1 } });
    expect(finished.plan).toEqual({ threads: 1, tokensPerThread: [1], tokenCount: 1 });

    const failures = (await (await get('/api/stock/sync/failure/list?status=0&page=1&size=10')).json()) as {
      code: number;
      data: { records: Array<{ stockCode: string }>; total: number; current: number; size: number; pages: number };
    };
    expect(failures).toMatchObject({ code: 200, msg: 'success', data: { total: 1, current: 1, size: 10, pages: 1 } });
    expect(failures.data.records.map((r) => r.stockCode)).toEqual(['699999']);

    const bars = (await (await get('/api/stock/kline?market=SH&code=600000&kType=8')).json()) as { bars: unknown[] };
    expect(bars.bars).toHaveLength(5);

    const retried = await post('/api/stock/sync/retry-failed?maxRetryCount=1', {});
    expect(retried.status).toBe(200);
    expect(await retried.json()).toEqual({ code: 200, msg: 'success', data: 0 });
  });

  it("keeps each job its owner's: listed, cancelled and retried by them, not found by anybody else", async () => {
    const simConfig = (latencyMs: number) =>
      fetch(`${stack.services.url('upstream-sim', 'http')}/__sim/config`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ routes: { 'market.kline': { latency: { kind: 'fixed', ms: latencyMs } } } }),
      });
    type Job = { id: string; status: string; cancelled: number; finishedAt: string; progress: { total: number; done: number; succeeded: number; failed: number } };
    await simConfig(3_000);
    const job = (await (await post('/api/stock/sync/batch', { market: 'SH', startDate: '2026-02-02', endDate: '2026-02-06' })).json()) as Job;

    const cancelled = await post(`/api/stock/sync/jobs/${job.id}/cancel`, {});
    expect(cancelled.status).toBe(200);
    const afterCancel = (await cancelled.json()) as Job;
    expect(afterCancel.status).toBe('cancelled');
    expect(afterCancel.cancelled).toBeGreaterThan(0);
    expect(afterCancel.progress.done).toBe(3);
    expect((await post(`/api/stock/sync/jobs/${job.id}/cancel`, {})).status).toBe(409);

    // Another user of the same tenant, and the same user name in another tenant, see nothing.
    for (const stranger of [{ sub: 'bob', tenant: 'acme' }, { sub: 'alice', tenant: 'other' }]) {
      const token = await stack.mintToken({ ...stranger, perms: ['stock:sync:list', 'stock:sync:run', 'stock:sync:retry'] });
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      expect((await get(`/api/stock/sync/jobs/${job.id}`, headers)).status).toBe(404);
      expect((await post(`/api/stock/sync/jobs/${job.id}/retry`, {}, headers)).status).toBe(404);
      const theirs = (await (await get('/api/stock/sync/jobs', headers)).json()) as { items: Job[]; total: number };
      expect(theirs.items.map((j) => j.id)).not.toContain(job.id);
    }
    const mine = (await (await get('/api/stock/sync/jobs?status=cancelled&size=5')).json()) as { items: Job[]; total: number; page: number; size: number };
    expect(mine).toMatchObject({ total: 1, page: 1, size: 5 });
    expect(mine.items.map((j) => j.id)).toEqual([job.id]);
    expect((await get('/api/stock/sync/jobs?status=sleeping')).status).toBe(400);

    await simConfig(0);
    const retried = await post(`/api/stock/sync/jobs/${job.id}/retry`, {});
    expect(retried.status).toBe(202);
    expect(((await retried.json()) as Job).status).toBe('queued');
    const finished = await finishedJob<Job>(job.id);
    // The unknown stock fails again; the stocks in flight at the cancel may have finished uncounted
    // then, and count now.
    expect(finished).toMatchObject({ status: 'partial', cancelled: 0, progress: { total: 3, done: 3, succeeded: 2, failed: 1 } });
    expect((await post(`/api/stock/sync/jobs/${job.id}/cancel`, {})).status).toBe(409);
  });

  it('serves stored bars in pages of 5,000, each naming where the next starts', async () => {
    await post('/api/stock/import', { stocks: [{ code: '000001', market: 'SZ' }] });
    const accepted = await post('/api/stock/sync/batch', { market: 'SZ', startDate: '2026-01-05', endDate: '2026-01-09', kType: 1 });
    const job = (await accepted.json()) as { id: string };
    expect((await finishedJob<{ finishedAt: string; status: string }>(job.id)).status).toBe('success');
    type Page = { bars: Array<{ t: number }>; nextFrom: number | null };
    const page = async (from: number) => (await (await get(`/api/stock/kline?market=SZ&code=000001&kType=1&from=${from}`)).json()) as Page;
    const first = await page(0);
    expect(first.bars).toHaveLength(5_000);
    expect(first.nextFrom).toBe((first.bars.at(-1)?.t ?? 0) + 60_000);
    const second = await page(first.nextFrom ?? 0);
    expect(second.nextFrom).toBeNull();
    const all = [...first.bars, ...second.bars].map((bar) => bar.t);
    // 5 days of 1-minute bars, each once, oldest first.
    expect(all).toHaveLength(5 * 1_440);
    expect(all.every((t, i) => i === 0 || t - (all[i - 1] ?? 0) === 60_000)).toBe(true);
  });

  it('evaluates intraday triggers given as a list', async () => {
    const response = await post('/api/intraday/parallel/execute-multiple', [
      { id: 'a', market: 'SH', code: '600000', kType: 1, priceChangePercent: 0, bars: 5 },
      { id: 'b', market: 'SH', code: '600000', kType: 1, priceChangePercent: 1000, bars: 5 },
    ]);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { results: Array<{ id: string; fired: boolean; error: string }> };
    expect(body.results.map((r) => [r.id, r.fired, r.error])).toEqual([
      ['a', true, ''],
      ['b', false, ''],
    ]);
  });

  it('uses tokens the moment they are enabled: a job started right after runs every stock on them', async () => {
    // Another tenant, so the pool is only these tokens.
    const token = await stack.mintToken({ sub: 'carol', tenant: 'initech', perms: ['tokens:admin', 'stock:sync:run', 'stock:sync:list'] });
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const secrets = Array.from({ length: 12 }, (_, i) => `e2e-enable-${i}-${Date.now().toString(36)}`);
    const sim = await fetch(`${stack.services.url('upstream-sim', 'http')}/__sim/market/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(secrets.map((secret) => ({ token: secret, ratePerSecond: 20 }))),
    });
    expect(sim.status).toBe(200);
    const ids: number[] = [];
    for (const secret of secrets) {
      const created = await post('/api/tokens', { provider: 'itick', secret, rateLimitPerSecond: 20 }, headers);
      ids.push(((await created.json()) as { id: number }).id);
    }
    const patchAll = (status: string) =>
      Promise.all(ids.map((id) => stack.fetch(`/api/tokens/${id}`, { method: 'PATCH', headers, body: JSON.stringify({ status }) })));
    expect((await patchAll('disabled')).map((r) => r.status)).toEqual(ids.map(() => 200));
    const stocks = Array.from({ length: 24 }, (_, i) => ({ code: String(601000 + i), market: 'SH' }));
    expect((await post('/api/stock/import', { stocks }, headers)).status).toBe(201);

    // kline-sync reads the tenant's pool while every token is disabled: empty.
    const beforeEnabling = await post('/api/intraday/parallel/execute-multiple', [{ id: 'x', market: 'SH', code: '601000', kType: 1, priceChangePercent: 0, bars: 2 }], headers);
    expect(((await beforeEnabling.json()) as { results: Array<{ error: string }> }).results[0]?.error).toMatch(/no usable credential/);

    // Enabled, and a job started at once: planned on the twelve, and every stock pulled with them.
    expect((await patchAll('active')).map((r) => r.status)).toEqual(ids.map(() => 200));
    const accepted = await post('/api/stock/sync/batch', { market: 'SH', startDate: '2026-01-05', endDate: '2026-01-09' }, headers);
    expect(accepted.status).toBe(202);
    const job = (await accepted.json()) as { id: string };
    type Progress = { status: string; finishedAt: string; plan: { tokenCount: number; threads: number }; progress: { total: number; succeeded: number; failed: number } };
    const finished = await finishedJob<Progress>(job.id, headers);
    expect(finished).toMatchObject({ status: 'success', plan: { tokenCount: 12, threads: 2 }, progress: { total: 24, succeeded: 24, failed: 0 } });
    const failures = (await (await get('/api/stock/sync/failure/list', headers)).json()) as { data: { total: number } };
    expect(failures.data.total).toBe(0);
  });

  it('rejects bad input with 400 and missing permissions with 403', async () => {
    expect((await post('/api/stock/sync/batch', { startDate: 'soon', endDate: '2026-01-09' })).status).toBe(400);
    expect((await post('/api/stock/sync/batch', { startDate: '2026-02-01', endDate: '2026-01-09' })).status).toBe(400);
    const tooLong = await post('/api/stock/sync/batch', { startDate: '2020-01-01', endDate: '2026-01-09', kType: 1 });
    expect(tooLong.status).toBe(400);
    expect(await tooLong.json()).toMatchObject({ error: { code: 'SYNC.RANGE_TOO_LONG', details: { maxBars: 527_040, kType: 1 } } });
    expect((await get('/api/stock/sync/jobs/not-a-uuid')).status).toBe(400);
    expect((await get('/api/stock/sync/failure/list?size=1000')).status).toBe(400);
    expect((await post('/api/intraday/parallel/execute-multiple', [{ id: 'x', market: 'SH', code: '600000', bars: 5, priceChangePercent: 1, extra: 1 }])).status).toBe(400);
    const listOnly = await stack.mintToken({ perms: ['stock:sync:list'] });
    const forbidden = await post('/api/stock/sync/batch', { startDate: '2026-01-01', endDate: '2026-01-02' }, {
      authorization: `Bearer ${listOnly}`,
      'content-type': 'application/json',
    });
    expect(forbidden.status).toBe(403);
  });
});
