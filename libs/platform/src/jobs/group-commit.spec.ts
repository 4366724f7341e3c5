import { GroupCommit, retryOnDeadlock } from './group-commit';

describe('GroupCommit', () => {
  it('writes the requests made during a flush in the next flush, each answered with its own result', async () => {
    const groups: number[][] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const commit = new GroupCommit<number, number>(
      async (inputs) => {
        groups.push(inputs);
        if (groups.length === 1) await gate;
        return inputs.map((input) => input * 10);
      },
      { maxBatch: 100, maxInFlight: 1 },
    );
    const first = commit.submit(1);
    await new Promise((resolve) => setImmediate(resolve));
    const rest = [2, 3, 4].map((input) => commit.submit(input));
    release();
    expect(await Promise.all([first, ...rest])).toEqual([10, 20, 30, 40]);
    expect(groups).toEqual([[1], [2, 3, 4]]);
  });

  it('retries a failed group one request at a time, so only the bad request fails', async () => {
    const commit = new GroupCommit<number, number>(
      async (inputs) => {
        if (inputs.includes(13)) throw new Error('bad input 13');
        return inputs;
      },
      { maxBatch: 10, maxInFlight: 1 },
    );
    const results = await Promise.allSettled([12, 13, 14].map((input) => commit.submit(input)));
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('runs a transaction chosen as a deadlock victim again, and gives up on other errors at once', async () => {
    let calls = 0;
    const deadlocked = Object.assign(new Error('Deadlock found'), { code: 'ER_LOCK_DEADLOCK' });
    expect(
      await retryOnDeadlock(async () => (++calls < 3 ? Promise.reject(deadlocked) : 'done')),
    ).toBe('done');
    expect(calls).toBe(3);
    await expect(retryOnDeadlock(async () => Promise.reject(new Error('syntax')))).rejects.toThrow(
      'syntax',
    );
  });
});
