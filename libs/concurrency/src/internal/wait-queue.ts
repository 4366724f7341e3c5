import { AbortWatcher, type Scope } from '../context';
import { Deque } from './deque';

interface Waiter<V> {
  resolve: (value: V) => void;
  reject: (reason: unknown) => void;
  watcher: AbortWatcher | undefined;
  done: boolean;
}

/**
 * The first-come first-served waiting line of the rate limiter and the token pool. A waiter whose
 * scope aborts leaves at once (its entry is skipped later, so leaving is O(1)); the owner is told
 * through `onLeave` so it can update its gauges and serve the next one.
 */
export class WaitQueue<V> {
  private readonly waiters = new Deque<Waiter<V>>();
  private waiting = 0;

  constructor(private readonly onLeave: () => void) {}

  /** Callers waiting (not counting those that left). */
  get size(): number {
    return this.waiting;
  }

  push(
    resolve: (value: V) => void,
    reject: (reason: unknown) => void,
    scope: Scope | undefined,
  ): void {
    const waiter: Waiter<V> = { resolve, reject, watcher: undefined, done: false };
    if (scope) {
      const watcher = new AbortWatcher(scope);
      waiter.watcher = watcher;
      watcher.onAbort = (reason) => {
        if (waiter.done) return;
        waiter.done = true;
        watcher.dispose();
        this.waiting--;
        reject(reason);
        this.onLeave();
      };
    }
    this.waiters.push(waiter);
    this.waiting++;
  }

  /**
   * Serves the waiters in order while `pick()` finds something for the head (it is called only
   * when somebody waits). The head leaves the line before `grant` turns the pick into its value,
   * so a grant that changes the owner's state (a credential's quota running out, which may turn
   * everybody away) never sees the waiter it is serving. Returns how many were served.
   */
  serveWhile<P>(pick: () => P | undefined, grant: (picked: P) => V): number {
    let served = 0;
    for (;;) {
      const head = this.waiters.peek();
      if (!head) break;
      if (head.done) {
        this.waiters.shift();
        continue;
      }
      const picked = pick();
      if (picked === undefined) break;
      this.waiters.shift();
      head.done = true;
      head.watcher?.dispose();
      this.waiting--;
      served++;
      head.resolve(grant(picked));
    }
    return served;
  }

  /** Turns every waiter away with `reason`. */
  rejectAll(reason: unknown): void {
    this.waiters.drain((waiter) => {
      if (waiter.done) return;
      waiter.done = true;
      waiter.watcher?.dispose();
      waiter.reject(reason);
    });
    this.waiting = 0;
  }
}
