import { Abandonment, currentRequestId, currentRequestSignal, remainingDeadlineMs, runOutsideRequest, runWithRequestContext } from './request-context';

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

  describe('Abandonment', () => {
    it('tells each listener once, and not one that stopped listening', () => {
      const abandonment = new Abandonment();
      const [told, stopped] = [jest.fn(), jest.fn()];
      abandonment.listen(told);
      abandonment.listen(stopped);
      abandonment.unlisten(stopped);
      expect(abandonment.aborted).toBe(false);
      abandonment.abandon();
      abandonment.abandon();
      expect(abandonment.aborted).toBe(true);
      expect(told).toHaveBeenCalledTimes(1);
      expect(stopped).not.toHaveBeenCalled();
      const late = jest.fn();
      abandonment.listen(late);
      abandonment.abandon();
      expect(late).not.toHaveBeenCalled();
    });

    it('makes its AbortSignal only when asked, aborted with it or already aborted', () => {
      const early = new Abandonment();
      const signal = early.signal;
      expect(early.signal).toBe(signal);
      expect(signal.aborted).toBe(false);
      early.abandon();
      expect(signal.aborted).toBe(true);
      const late = new Abandonment();
      late.abandon();
      expect(late.signal.aborted).toBe(true);
    });
  });
});
