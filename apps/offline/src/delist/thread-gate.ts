/**
 * A counting gate: at most `limit()` holders at once, the rest wait in order. The limit is read
 * on every admission, so an adaptive limit takes effect as it moves (holders above a lowered
 * limit finish; nobody new is let in until the count is under it). A waiter whose signal aborts
 * leaves the line with the signal's reason.
 */
export class ThreadGate {
  private held = 0;
  private readonly waiting: Array<{ admit: () => void }> = [];

  constructor(private readonly limit: () => number) {}

  get inFlight(): number {
    return this.held;
  }

  async acquire(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    if (this.waiting.length > 0 || this.held >= this.limit()) {
      await new Promise<void>((resolve, reject) => {
        const waiter = {
          admit: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
        };
        const onAbort = () => {
          const index = this.waiting.indexOf(waiter);
          if (index >= 0) this.waiting.splice(index, 1);
          reject(signal?.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        this.waiting.push(waiter);
      });
    } else {
      this.held++;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held--;
      this.admitWaiting();
    };
  }

  /** Lets waiters in while the limit allows (also after the limit was raised). */
  admitWaiting(): void {
    while (this.waiting.length > 0 && this.held < this.limit()) {
      this.held++;
      this.waiting.shift()?.admit();
    }
  }
}
