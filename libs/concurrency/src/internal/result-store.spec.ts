import { ResultStore } from './result-store';

describe('ResultStore', () => {
  it('hands results back in input order, skipping items that never ended', () => {
    const items = ['a', 'b', 'c', 'd'];
    const store = new ResultStore<string>(items, items.length);
    const boom = new Error('boom');
    store.set(2, 'c', false, boom, 3, 12);
    store.set(0, 'a', true, 'A', 1, 1);
    store.set(3, 'd', true, undefined, 0, 0);
    expect(store.materialize<string>()).toEqual([
      { index: 0, item: 'a', ok: true, value: 'A', attempts: 1, durationMs: 1 },
      { index: 2, item: 'c', ok: false, error: boom, attempts: 3, durationMs: 12 },
      { index: 3, item: 'd', ok: true, value: undefined, attempts: 0, durationMs: 0 },
    ]);
  });

  it('keeps any number of attempts, beyond what fits in the compact column', () => {
    const store = new ResultStore<number>(undefined, undefined);
    for (const attempts of [0, 1, 126, 127, 1_000, 70_000]) {
      store.set(attempts, attempts, attempts % 2 === 0, 'v', attempts, 1);
    }
    expect(store.materialize().map((r) => [r.attempts, r.ok])).toEqual([
      [0, true],
      [1, false],
      [126, true],
      [127, false],
      [1_000, true],
      [70_000, true],
    ]);
  });

  it('keeps whole-millisecond durations up to 2^32 - 1 ms (~49 days)', () => {
    const store = new ResultStore<number>([0, 1], 2);
    store.set(0, 0, true, 0, 1, 3_600_000);
    store.set(1, 1, true, 0, 1, 2 ** 32 - 1);
    const [a, b] = store.materialize();
    expect(a.durationMs).toBe(3_600_000);
    expect(b.durationMs).toBe(2 ** 32 - 1);
  });

  it('grows chunk by chunk when the number of items is unknown, keeping the items', () => {
    const store = new ResultStore<{ n: number }>(undefined, undefined);
    const n = 40_000; // more than two chunks
    for (let i = n - 1; i >= 0; i -= 3) store.set(i, { n: i }, true, i * 2, 1, i);
    const results = store.materialize<number>();
    expect(results).toHaveLength(Math.ceil(n / 3));
    for (const r of results) {
      expect(r.item).toEqual({ n: r.index });
      expect(r.ok && r.value).toBe(r.index * 2);
      expect(r.durationMs).toBe(r.index);
    }
    expect(results.map((r) => r.index)).toEqual(
      [...results.map((r) => r.index)].sort((a, b) => a - b),
    );
  });

  it('hands out a dense array of exactly the finished items, whole chunks without any skipped', () => {
    const store = new ResultStore<number>(undefined, undefined);
    const chunk = 16_384;
    const finished = [0, 5, chunk - 1, 3 * chunk + 7, 3 * chunk + 8]; // chunks 1 and 2: none
    for (const i of [...finished].reverse()) store.set(i, i, i % 2 === 0, `v${i}`, 1, 1);
    const results = store.materialize<string>();
    expect(results).toHaveLength(finished.length);
    expect(Object.keys(results)).toHaveLength(finished.length); // no holes
    expect(results.map((r) => [r.index, r.item, r.ok])).toEqual(
      finished.map((i) => [i, i, i % 2 === 0]),
    );
    expect(results.map((r) => (r.ok ? r.value : r.error))).toEqual(finished.map((i) => `v${i}`));
  });

  it('accepts items past a known size (an input array that grew while it ran)', () => {
    const items = [0, 1];
    const store = new ResultStore<number>(items, 2);
    items.push(2, 3, 4);
    for (const i of items) store.set(i, i, true, i, 1, 0);
    expect(store.materialize().map((r) => r.item)).toEqual([0, 1, 2, 3, 4]);
  });
});
