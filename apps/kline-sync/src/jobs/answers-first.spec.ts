import { AnswersFirst } from './answers-first';

/** A promise and its resolve, to end a piece of work when the test says so. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('AnswersFirst', () => {
  it('runs every background step at once while no submission is being answered', async () => {
    const gate = new AnswersFirst();
    const blocker = deferred();
    const started: number[] = [];
    const steps = [1, 2, 3, 4].map((n) => gate.step(async () => (started.push(n), blocker.promise)));
    await settle();
    expect(started).toEqual([1, 2, 3, 4]);
    blocker.resolve();
    await Promise.all(steps);
  });

  it('runs two steps at a time while a submission is in flight, and the rest once it is answered', async () => {
    const gate = new AnswersFirst();
    const submission = deferred();
    const answered = gate.answer(() => submission.promise);
    const ends = [deferred(), deferred(), deferred(), deferred()];
    const started: number[] = [];
    const steps = ends.map((end, n) => gate.step(async () => (started.push(n), end.promise)));
    await settle();
    expect(started).toEqual([0, 1]);
    ends[0]?.resolve();
    await settle();
    // One ended: the next waiting step takes its place, the last still waits.
    expect(started).toEqual([0, 1, 2]);
    submission.resolve();
    await answered;
    await settle();
    expect(started).toEqual([0, 1, 2, 3]);
    for (const end of ends) end.resolve();
    await Promise.all(steps);
  });

  it('answers with what the submission answered and lets a failed one go too', async () => {
    const gate = new AnswersFirst();
    await expect(gate.answer(async () => 'stored')).resolves.toBe('stored');
    await expect(gate.answer(async () => Promise.reject(new Error('refused')))).rejects.toThrow('refused');
    const started: number[] = [];
    await Promise.all([1, 2, 3].map((n) => gate.step(async () => started.push(n))));
    expect(started).toEqual([1, 2, 3]);
  });
});
