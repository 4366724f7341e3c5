import pino from 'pino';
import { Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import type { KlineSyncConfig } from '../config/kline-sync.config';
import { KlineSyncMetrics } from '../kline-sync.metrics';
import type { TokenSupply } from '../sync/token-supply';
import type { SyncJobStore } from './sync-job-kind';
import { AnswersFirst } from './answers-first';
import { SyncPlanner } from './sync-planner';

const owner = { tenant: 'acme', userId: 'alice' };
// Stored in (market, code) order, as a submission stores them: 7 SH stocks, then 3 SZ.
const stocks = [...Array.from({ length: 7 }, (_, i) => ({ market: 'SH', code: `60000${i}` })), ...['000001', '000002', '000003'].map((code) => ({ market: 'SZ', code }))];

function planner(tokens: number, releases = 1) {
  const stored: unknown[][] = [];
  const reads: string[] = [];
  const orders = new Map<string, readonly number[] | undefined>();
  const releaseCalls: number[] = [];
  let released: () => void = () => undefined;
  const release = new Promise<readonly number[] | undefined>((resolve) => (released = () => resolve([...orders.values()][0])));
  const jobs = {
    get: async (_owner: unknown, id: string) => (reads.push(`get ${id}`), { total: stocks.length }),
    items: async (_owner: unknown, id: string) => (reads.push(`items ${id}`), { items: stocks.map((payload, seq) => ({ seq, payload })), total: stocks.length }),
    releaseAll: async (held: ReadonlyArray<{ id: string; order?: readonly number[] }>) => {
      releaseCalls.push(held.length);
      for (const { id, order } of held) orders.set(id, order);
      if (orders.size === releases) released();
      return held.map(() => undefined);
    },
    held: async () => [],
  } as unknown as SyncJobStore;
  const dataSource = {
    query: async (_sql: string, params: unknown[]) => {
      stored.push(params);
      return { affectedRows: 1 };
    },
  } as unknown as DataSource;
  const primed: Array<[string, number]> = [];
  const freshReads: string[] = [];
  const supply = {
    fresh: async (tenant: string) => (freshReads.push(tenant), { credentials: () => Array.from({ length: tokens }, (_, i) => ({ id: i, status: 'active' })) }),
    prime: (tenant: string, calls: number) => primed.push([tenant, calls]),
  } as unknown as TokenSupply;
  const registry = new Registry();
  const config = { SYNC_TOKENS_PER_THREAD: 6, SYNC_MAX_THREADS: 10 } as KlineSyncConfig;
  const subject = new SyncPlanner(dataSource, jobs, supply, config, new KlineSyncMetrics(registry), pino({ level: 'silent' }), new AnswersFirst());
  return { subject, stored, release, registry, primed, reads, orders, freshReads, releaseCalls };
}

describe('SyncPlanner', () => {
  it("plans as seed 004 after the answer and queues the stocks in the seed's order: by market, round-robin over the threads", async () => {
    const { subject, stored, release, registry, primed, reads } = planner(14);
    subject.planSoon({ id: 'job-1', owner, stocks });
    const order = await release;
    expect(stored).toEqual([['job-1', 'acme', 'alice', JSON.stringify({ threads: 2, tokensPerThread: [7, 7], tokenCount: 14 })]]);
    // SH: seqs 0-6 over 2 threads → [0, 2, 4, 6], [1, 3, 5]; SZ: seqs 7-9 → [7, 9], [8].
    expect(order).toEqual([0, 2, 4, 6, 1, 3, 5, 7, 9, 8]);
    // The job's first calls are booked while it is planned: one for each of its 10 stocks.
    expect(primed).toEqual([['acme', 10]]);
    expect(await registry.getSingleMetricAsString('kline_sync_plan_tokens_per_thread')).toContain('kline_sync_plan_tokens_per_thread{thread="1"} 7');
    // The submission handed its stocks over: nothing of the job is read back.
    expect(reads).toEqual([]);
  });

  it('plans the jobs held meanwhile in one pass: one token read, one plan write, every job released in its order in one release', async () => {
    const { subject, stored, release, primed, orders, freshReads, releaseCalls } = planner(14, 3);
    for (const id of ['job-a', 'job-b', 'job-c']) subject.planSoon({ id, owner, stocks });
    await release;
    expect(freshReads).toEqual(['acme']);
    const plan = JSON.stringify({ threads: 2, tokensPerThread: [7, 7], tokenCount: 14 });
    expect(stored).toEqual([['job-a', 'acme', 'alice', plan, 'job-b', 'acme', 'alice', plan, 'job-c', 'acme', 'alice', plan]]);
    expect([...orders.values()]).toEqual(Array.from({ length: 3 }, () => [0, 2, 4, 6, 1, 3, 5, 7, 9, 8]));
    expect(releaseCalls).toEqual([3]);
    // The pass's 30 stocks: 30 first calls booked.
    expect(primed).toEqual([['acme', 30]]);
  });

  it('reads the stocks of a job it was not handed (one the sweep found)', async () => {
    const { subject, release, reads } = planner(14);
    subject.planSoon({ id: 'job-3', owner });
    expect(await release).toEqual([0, 2, 4, 6, 1, 3, 5, 7, 9, 8]);
    expect(reads).toEqual(['get job-3', 'items job-3']);
  });

  it('still queues a job planned on no token: one thread, its stocks in their order', async () => {
    const { subject, stored, release, primed } = planner(0);
    subject.planSoon({ id: 'job-2', owner, stocks });
    expect(await release).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(primed).toEqual([]);
    expect(stored[0]?.[3]).toBe(JSON.stringify({ threads: 1, tokensPerThread: [0], tokenCount: 0 }));
  });
});
