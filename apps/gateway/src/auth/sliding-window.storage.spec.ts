import { ThrottlerStorageService } from '@nestjs/throttler';
import { SlidingWindowThrottlerStorage } from './sliding-window.storage';

/** The library's storage and this one, driven through the same clock. */
function both() {
  let now = 1_700_000_000_000;
  jest.spyOn(Date, 'now').mockImplementation(() => now);
  const library = new ThrottlerStorageService();
  const ours = new SlidingWindowThrottlerStorage();
  return {
    advance: (ms: number) => (now += ms),
    increment: async (key: string, ttl: number, limit: number) => [
      await library.increment(key, ttl, limit, ttl, 'user'),
      await ours.increment(key, ttl, limit, ttl, 'user'),
    ],
    close: () => {
      library.onApplicationShutdown();
      ours.onApplicationShutdown();
    },
  };
}

describe('SlidingWindowThrottlerStorage', () => {
  afterEach(() => jest.restoreAllMocks());

  it.each([
    ['a limit the bursts go through (blocks)', 150, true],
    ['a limit never reached (a long queue of live hits, compacted as they expire)', 100_000, false],
  ])('answers as @nestjs/throttler\'s storage does, request by request, through bursts and quiet spells: %s', async (_, limit, blocks) => {
    const storages = both();
    // A deterministic pseudo-random walk: bursts within the window, gaps across it, two callers.
    let seed = 7;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
    const answers = { blocked: 0, allowed: 0 };
    for (let i = 0; i < 20_000; i++) {
      const gap = next() < 0.01 ? 1_000 + Math.floor(next() * 3_000) : Math.floor(next() * 12);
      storages.advance(gap);
      const key = next() < 0.8 ? 'acme/alice' : 'acme/bob';
      const [library, ours] = await storages.increment(key, 2_000, limit);
      expect(ours).toEqual(library);
      answers[ours?.isBlocked ? 'blocked' : 'allowed']++;
    }
    // The walk went through the limit many times, and below it (or never reached it).
    expect(answers.blocked > 1_000).toBe(blocks);
    expect(answers.allowed).toBeGreaterThan(1_000);
    storages.close();
  });

  it('allows `limit` requests per window, blocks the next for the window with Retry-After, then counts afresh', async () => {
    const storages = both();
    for (let i = 1; i <= 3; i++) expect((await storages.increment('k', 60_000, 3))[1]).toMatchObject({ totalHits: i, isBlocked: false, timeToExpire: 60 });
    expect((await storages.increment('k', 60_000, 3))[1]).toMatchObject({ isBlocked: true, timeToBlockExpire: 60 });
    storages.advance(59_000);
    expect((await storages.increment('k', 60_000, 3))[1]).toMatchObject({ isBlocked: true, timeToBlockExpire: 1 });
    storages.advance(1_000);
    expect((await storages.increment('k', 60_000, 3))[1]).toMatchObject({ totalHits: 1, isBlocked: false });
    // Another caller has its own allowance.
    expect((await storages.increment('other', 60_000, 3))[1]).toMatchObject({ totalHits: 1, isBlocked: false });
    storages.close();
  });
});
