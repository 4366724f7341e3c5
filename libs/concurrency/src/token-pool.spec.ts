import { getEventListeners } from 'node:events';
import { fc, checkProperty } from '../test/property';
import { ManualClock } from './clock';
import {
  AuthError,
  NoCredentialAvailableError,
  QuotaExhaustedError,
  RateLimitedError,
  TransientError,
} from './errors';
import { runBatch } from './run-batch';
import {
  type CredentialSpec,
  TokenPool,
  calculateThreadCount,
  distributeStocks,
  distributeTokens,
} from './token-pool';

const tokens = (n: number, extra: Partial<CredentialSpec<string>> = {}): CredentialSpec<string>[] =>
  Array.from({ length: n }, (_, i) => ({ id: `t${i}`, value: `secret-${i}`, ...extra }));

describe("the seed's static split", () => {
  it('calculateThreadCount reproduces the seed (6 tokens per thread, at most 10)', () => {
    expect(calculateThreadCount(5, 6, 10)).toBe(1);
    expect(calculateThreadCount(12, 6, 10)).toBe(2);
    expect(calculateThreadCount(100, 6, 10)).toBe(10);
    expect(calculateThreadCount(0)).toBe(1);
    expect(TokenPool.calculateThreadCount(13)).toBe(2);
    // tokensPerThread 100: the single-thread rollout mode
    expect(calculateThreadCount(99, 100, 10)).toBe(1);
    expect(() => calculateThreadCount(-1)).toThrow(RangeError);
    expect(() => calculateThreadCount(5, 0)).toThrow(RangeError);
  });

  it('distributeTokens gives the remainder to the first threads, in order', () => {
    const sizes = (n: number, threads: number) =>
      distributeTokens(
        Array.from({ length: n }, (_, i) => i),
        threads,
      ).map((l) => l.length);
    expect(sizes(12, 2)).toEqual([6, 6]);
    expect(sizes(14, 2)).toEqual([7, 7]);
    expect(sizes(20, 3)).toEqual([7, 7, 6]);
    expect(TokenPool.distributeTokens([1, 2, 3, 4, 5], 2)).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
    expect(() => distributeTokens([1], 0)).toThrow(RangeError);
  });

  it('distributeStocks deals round robin', () => {
    const lanes = distributeStocks(
      Array.from({ length: 10 }, (_, i) => `s${i}`),
      3,
    );
    expect(lanes.map((l) => l.length)).toEqual([4, 3, 3]);
    expect(lanes[0]).toEqual(['s0', 's3', 's6', 's9']);
    expect(TokenPool.distributeStocks([1, 2], 3)).toEqual([[1], [2], []]);
  });

  it('staticSplit builds one pool per lane with its tokens and its stocks', async () => {
    const lanes = TokenPool.staticSplit(
      tokens(14),
      Array.from({ length: 10 }, (_, i) => i),
      { clock: new ManualClock() },
    );
    expect(lanes).toHaveLength(2);
    expect(lanes.map((l) => l.pool.size)).toEqual([7, 7]);
    expect(lanes.map((l) => l.items)).toEqual([
      [0, 2, 4, 6, 8],
      [1, 3, 5, 7, 9],
    ]);
    expect(lanes[1].pool.name).toBe('token-pool-1');
    const lease = await lanes[1].pool.lease();
    expect(lease.id).toBe('t7');
    lease.release();
  });
});

describe('TokenPool', () => {
  it('leases the least recently used credential with capacity', async () => {
    const pool = new TokenPool({
      credentials: tokens(3),
      clock: new ManualClock(),
      maxInFlightPerCredential: 2,
    });
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const lease = await pool.lease();
      ids.push(lease.id);
      lease.release();
    }
    expect(ids).toEqual(['t0', 't1', 't2', 't0', 't1', 't2']);
    expect(pool.credentials().map((c) => c.leases)).toEqual([2, 2, 2]);
  });

  it('leases the credential whose call could start soonest when credentials say (nextCallAt), the least recently used on a tie', async () => {
    const clock = new ManualClock(1_000);
    const asked: Array<[string, number, number]> = [];
    // Each lease out pushes t0's next call back by 300 ms and t1's by 100 ms.
    const pool = new TokenPool({
      credentials: tokens(2).map((t) => ({
        ...t,
        nextCallAt: (now: number, leased: number) => {
          asked.push([t.id, now, leased]);
          return now + leased * (t.id === 't0' ? 300 : 100);
        },
      })),
      clock,
      maxInFlightPerCredential: 4,
    });
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await pool.lease()).id);
    // t0 can call at 0, 300, 600 ms; t1 at 0, 100, 200, 300 ms: each lease takes whichever opens
    // first; at 0 and at 300 ms both do, and the least recently used wins.
    expect(ids).toEqual(['t0', 't1', 't1', 't1', 't0', 't1']);
    expect(asked).toContainEqual(['t1', 1_000, 3]);
  });

  it('makes leases exclusive by default and queues callers FIFO', async () => {
    const pool = new TokenPool({ credentials: tokens(1), clock: new ManualClock() });
    const first = await pool.lease();
    expect(pool.tryLease()).toBeUndefined();
    const order: string[] = [];
    const a = pool.lease().then((l) => (order.push('a'), l));
    const b = pool.lease().then((l) => (order.push('b'), l));
    expect(pool.stats().waiting).toBe(2);
    first.release();
    (await a).release();
    (await b).release();
    expect(order).toEqual(['a', 'b']);
  });

  it("respects each credential's own rate limit", async () => {
    const clock = new ManualClock();
    const pool = new TokenPool({
      credentials: tokens(2, { rate: { limit: 2, intervalMs: 1_000, marginMs: 0 } }),
      clock,
    });
    const grants: string[] = [];
    const all = Array.from({ length: 6 }, () =>
      pool.lease().then((l) => {
        grants.push(`${l.id}@${clock.now()}`);
        l.release();
      }),
    );
    await clock.runAllAsync();
    await Promise.all(all);
    expect(grants).toEqual(['t0@0', 't1@0', 't0@0', 't1@0', 't0@1000', 't1@1000']);
  });

  it('counts quota down, marks the credential exhausted and announces it', async () => {
    const pool = new TokenPool({
      credentials: [
        { id: 'a', value: 'A', quota: 2 },
        { id: 'b', value: 'B' },
      ],
      clock: new ManualClock(),
    });
    const exhausted = jest.fn();
    pool.on('exhausted', exhausted);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const lease = await pool.lease();
      ids.push(lease.id);
      lease.release();
    }
    expect(ids).toEqual(['a', 'b', 'a', 'b', 'b']);
    expect(exhausted).toHaveBeenCalledWith({ id: 'a' });
    expect(pool.credentials()[0]).toMatchObject({ status: 'exhausted', remainingQuota: 0 });
    pool.setQuota('a', 10);
    expect(pool.credentials()[0].status).toBe('active');
  });

  it('use() retires a credential on auth errors only, and the next call gets another one', async () => {
    const pool = new TokenPool({ credentials: tokens(2), clock: new ManualClock() });
    const retired = jest.fn();
    pool.on('retired', retired);
    // A failure caused by the item (not the token) keeps the token in the pool.
    await expect(
      pool.use(() => Promise.reject(new TransientError('stock not found'))),
    ).rejects.toThrow('stock not found');
    const authError = Object.assign(new Error('401'), { status: 401 });
    await expect(pool.use(() => Promise.reject(authError))).rejects.toBe(authError);
    expect(retired).toHaveBeenCalledWith({ id: 't1', reason: 'auth', error: authError });
    const used: string[] = [];
    for (let i = 0; i < 3; i++)
      await pool.use((secret, lease) => used.push(`${lease.id}:${secret}`));
    expect(used).toEqual(['t0:secret-0', 't0:secret-0', 't0:secret-0']);
    expect(pool.stats()).toMatchObject({ active: 1, retired: 1 });
  });

  it('use() marks a credential exhausted on quota errors and cools it down on 429', async () => {
    const clock = new ManualClock();
    const pool = new TokenPool({ credentials: tokens(2), clock });
    await expect(pool.use(() => Promise.reject(new QuotaExhaustedError()))).rejects.toBeInstanceOf(
      QuotaExhaustedError,
    );
    expect(pool.credentials()[0].status).toBe('exhausted');
    await expect(pool.use(() => Promise.reject(new RateLimitedError(500)))).rejects.toBeInstanceOf(
      RateLimitedError,
    );
    const waited = pool.lease();
    await clock.advanceAsync(499);
    expect(pool.stats().waiting).toBe(1);
    await clock.advanceAsync(1);
    expect((await waited).id).toBe('t1');
  });

  it('fails waiters fast and announces "drained" when no credential is left', async () => {
    const pool = new TokenPool({ credentials: tokens(1), clock: new ManualClock() });
    const drained = jest.fn();
    pool.on('drained', drained);
    const lease = await pool.lease();
    const waiting = pool.lease();
    lease.retire('revoked');
    await expect(waiting).rejects.toBeInstanceOf(NoCredentialAvailableError);
    await expect(pool.lease()).rejects.toBeInstanceOf(NoCredentialAvailableError);
    expect(drained).toHaveBeenCalledWith({ name: 'token-pool' });
    pool.add({ id: 'new', value: 'n' });
    expect((await pool.lease()).id).toBe('new');
  });

  it('settles a lease once; later calls are ignored', async () => {
    const pool = new TokenPool({ credentials: tokens(1), clock: new ManualClock() });
    const lease = await pool.lease();
    lease.retire('auth');
    lease.release();
    lease.exhaust();
    expect(pool.credentials()[0]).toMatchObject({
      status: 'retired',
      inFlight: 0,
      retiredReason: 'auth',
    });
  });

  it('gives up a waiting lease when its signal aborts, leaving no listener', async () => {
    const pool = new TokenPool({ credentials: tokens(1), clock: new ManualClock() });
    const held = await pool.lease();
    const signal = new AbortController();
    const waiting = pool.lease(signal.signal);
    signal.abort(new Error('client left'));
    await expect(waiting).rejects.toThrow('client left');
    expect(getEventListeners(signal.signal, 'abort')).toHaveLength(0);
    expect(pool.stats().waiting).toBe(0);
    held.release();
  });

  it('reports leases and waiters as gauges', async () => {
    const inFlight = jest.fn();
    const pool = new TokenPool({
      credentials: tokens(1),
      clock: new ManualClock(),
      name: 'itick',
      metrics: { inFlight },
    });
    const lease = await pool.lease();
    expect(inFlight).toHaveBeenLastCalledWith({ name: 'itick', value: 1 });
    lease.release();
    expect(inFlight).toHaveBeenLastCalledWith({ name: 'itick', value: 0 });
  });

  it('rejects bad credentials', () => {
    expect(() => new TokenPool({ credentials: [{ id: '', value: 1 }] })).toThrow(TypeError);
    expect(
      () =>
        new TokenPool({
          credentials: [
            { id: 'a', value: 1 },
            { id: 'a', value: 2 },
          ],
        }),
    ).toThrow(/duplicate/);
    expect(() => new TokenPool({ credentials: [{ id: 'a', value: 1, quota: -1 }] })).toThrow(
      RangeError,
    );
  });

  it('feeds a batch: one shared pool, concurrency = credentials', async () => {
    const clock = new ManualClock();
    const pool = new TokenPool({
      credentials: tokens(3, { rate: { limit: 5, intervalMs: 1_000 } }),
      clock,
    });
    const stocks = Array.from({ length: 30 }, (_, i) => `60000${i}`);
    const run = runBatch(
      stocks,
      (code) =>
        pool.use(
          (secret) =>
            new Promise<string>((r) => clock.setTimeout(() => r(`${code}:${secret}`), 10)),
        ),
      {
        concurrency: pool.size,
        clock,
      },
    );
    await clock.runAllAsync();
    const report = await run;
    expect(report.succeeded).toBe(30);
    // 3 credentials × 5 per second: 30 calls need two full windows.
    expect(clock.now()).toBeGreaterThanOrEqual(1_000);
    expect(pool.credentials().map((c) => c.leases)).toEqual([10, 10, 10]);
  });

  it('property: never leases a retired or exhausted credential, never exceeds a rate, never double-leases', async () => {
    type Outcome = 'ok' | 'auth' | 'quota' | 'item';
    await checkProperty(
      'token pool',
      fc.asyncProperty(
        fc.array(
          fc.record({
            limit: fc.integer({ min: 1, max: 4 }),
            intervalMs: fc.integer({ min: 10, max: 200 }),
            quota: fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }),
          }),
          { minLength: 1, maxLength: 5 },
        ),
        fc.array(
          fc.record({
            gap: fc.integer({ min: 0, max: 50 }),
            durationMs: fc.integer({ min: 0, max: 60 }),
            outcome: fc.constantFrom<Outcome>('ok', 'ok', 'ok', 'item', 'auth', 'quota'),
          }),
          { minLength: 1, maxLength: 40 },
        ),
        async (specs, calls) => {
          const clock = new ManualClock();
          const pool = new TokenPool({
            credentials: specs.map((s, i) => ({
              id: `c${i}`,
              value: i,
              rate: { limit: s.limit, intervalMs: s.intervalMs },
              quota: s.quota,
            })),
            clock,
          });
          // Credentials the pool must never hand out again: retired (auth) or exhausted by the
          // server (quota error). Expectations inside `use` would be swallowed by its error
          // handling, so violations are collected and checked at the end.
          const dead = new Set<string>(specs.flatMap((s, i) => (s.quota === 0 ? [`c${i}`] : [])));
          const violations: string[] = [];
          const leasesAt = new Map<string, number[]>();
          const inUse = new Set<string>();
          const done: Promise<unknown>[] = [];
          for (const call of calls) {
            await clock.advanceAsync(call.gap);
            done.push(
              pool
                .use((_, lease) => {
                  if (dead.has(lease.id))
                    violations.push(`leased dead ${lease.id} at ${clock.now()}`);
                  if (inUse.has(lease.id))
                    violations.push(`double lease of ${lease.id} at ${clock.now()}`);
                  inUse.add(lease.id);
                  const list = leasesAt.get(lease.id) ?? [];
                  list.push(clock.now());
                  leasesAt.set(lease.id, list);
                  return new Promise((resolve, reject) =>
                    clock.setTimeout(() => {
                      inUse.delete(lease.id);
                      if (call.outcome === 'ok') resolve('ok');
                      else if (call.outcome === 'item') reject(new TransientError());
                      else {
                        dead.add(lease.id);
                        reject(
                          call.outcome === 'auth' ? new AuthError() : new QuotaExhaustedError(),
                        );
                      }
                    }, call.durationMs),
                  );
                })
                .catch(() => undefined),
            );
          }
          await clock.runAllAsync();
          await Promise.all(done);
          specs.forEach((s, i) => {
            const times = (leasesAt.get(`c${i}`) ?? []).sort((a, b) => a - b);
            for (let k = s.limit; k < times.length; k++)
              expect(times[k] - times[k - s.limit]).toBeGreaterThanOrEqual(s.intervalMs);
            if (s.quota !== undefined) expect(times.length).toBeLessThanOrEqual(s.quota);
          });
          expect(violations).toEqual([]);
          expect(pool.stats().leased).toBe(0);
          expect(pool.stats().waiting).toBe(0);
        },
      ),
    );
  });
});
