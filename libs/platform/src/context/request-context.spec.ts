import { currentRequestId, currentRequestSignal, remainingDeadlineMs, runOutsideRequest, runWithRequestContext } from './request-context';

describe('request context', () => {
  it('carries the request id, deadline and signal through awaits and timers', async () => {
    const abandoned = new AbortController();
    await runWithRequestContext({ requestId: 'r-1', deadline: Date.now() + 5_000, signal: abandoned.signal }, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      expect(currentRequestId()).toBe('r-1');
      expect(currentRequestSignal()).toBe(abandoned.signal);
      expect(remainingDeadlineMs(60_000)).toBeLessThanOrEqual(5_000);
    });
  });

  it('runs shared work outside the request: no deadline, no signal, also in its later timers', async () => {
    const abandoned = new AbortController();
    abandoned.abort();
    await runWithRequestContext({ requestId: 'r-2', deadline: Date.now() - 1, signal: abandoned.signal }, () =>
      runOutsideRequest(async () => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        expect(currentRequestId()).toBeUndefined();
        expect(currentRequestSignal()).toBeUndefined();
        expect(remainingDeadlineMs(60_000)).toBe(60_000);
      }),
    );
  });
});
