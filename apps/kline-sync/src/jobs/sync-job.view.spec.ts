import { jobTiming } from './sync-job.view';

const startedAt = new Date('2026-11-23T10:00:00.000Z');
const oneMinuteLater = new Date('2026-11-23T10:01:00.000Z');
const running = { startedAt, finishedAt: null, total: 100, succeeded: 0, failed: 0, cancelled: 0, doneThisRun: 0 };

describe('jobTiming', () => {
  it('is zero before the first stock starts', () => {
    expect(jobTiming({ ...running, startedAt: null }, oneMinuteLater)).toEqual({ elapsedMs: 0, etaMs: 0 });
  });

  it('projects the pace so far onto the pending stocks', () => {
    const job = { ...running, succeeded: 20, failed: 5, doneThisRun: 25 };
    expect(jobTiming(job, oneMinuteLater)).toEqual({ elapsedMs: 60_000, etaMs: 180_000 });
  });

  it("counts only this run's stocks for a retried job: earlier successes are not its pace", () => {
    // 90 stocks succeeded in the first run; 10 were retried, 2 of them have ended in this minute.
    const job = { ...running, succeeded: 92, doneThisRun: 2 };
    expect(jobTiming(job, oneMinuteLater)).toEqual({ elapsedMs: 60_000, etaMs: 240_000 });
  });

  it('has no ETA once finished or before any stock of this run ended', () => {
    const finishedAt = new Date('2026-11-23T10:00:30.000Z');
    expect(jobTiming({ ...running, succeeded: 100, doneThisRun: 100, finishedAt }, oneMinuteLater)).toEqual({ elapsedMs: 30_000, etaMs: 0 });
    expect(jobTiming({ ...running, succeeded: 90, doneThisRun: 0 }, oneMinuteLater)).toEqual({ elapsedMs: 60_000, etaMs: 0 });
  });
});
