/**
 * Group commit: requests made while a flush is running are gathered and written by the next
 * flush as one transaction, so a thousand items finishing at once cost a few commits instead of a
 * thousand. Hand-written because what it needs is small and specific (a bounded number of
 * flushes in flight over a connection pool, and a failed group retried one by one so one bad
 * request cannot fail the others); DataLoader-style batchers only merge what arrives in one tick
 * and would commit each tick's few requests alone while the previous commit is still running.
 */
export class GroupCommit<T, R> {
  private waiting: Array<{
    input: T;
    resolve: (value: R) => void;
    reject: (error: unknown) => void;
  }> = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    /** Writes a group; answers one result per input, in order. */
    private readonly flush: (inputs: T[]) => Promise<R[]>,
    private readonly options: {
      maxBatch: number;
      maxInFlight: number;
    },
  ) {}

  submit(input: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ input, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.options.maxInFlight || this.waiting.length === 0)
      return;
    this.scheduled = true;
    // One macrotask lets the requests of the same burst join before the first flush starts.
    setImmediate(() => {
      this.scheduled = false;
      while (this.inFlight < this.options.maxInFlight && this.waiting.length > 0) {
        void this.run(this.waiting.splice(0, this.options.maxBatch));
      }
    });
  }

  private async run(group: GroupCommit<T, R>['waiting']): Promise<void> {
    this.inFlight++;
    try {
      try {
        const results = await this.flush(group.map((entry) => entry.input));
        group.forEach((entry, index) => entry.resolve(results[index] as R));
      } catch (error) {
        if (group.length === 1) {
          group[0]?.reject(error);
          return;
        }
        // One request may be the cause (bad data): each alone, so only it fails.
        await Promise.all(
          group.map(async (entry) => {
            try {
              const [result] = await this.flush([entry.input]);
              entry.resolve(result as R);
            } catch (single) {
              entry.reject(single);
            }
          }),
        );
      }
    } finally {
      this.inFlight--;
      this.schedule();
    }
  }
}

/** MySQL errors after which the same transaction may simply run again. */
const RETRYABLE_SQL_ERRORS = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT']);

/** Runs `work` again (up to `attempts` times) when MySQL chose it as a deadlock victim. */
export async function retryOnDeadlock<T>(work: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= attempts || !isRetryableSqlError(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
    }
  }
}

/** A deadlock or lock-wait timeout: the same transaction may simply run again. */
export function isRetryableSqlError(error: unknown): boolean {
  let current = error;
  for (let depth = 0; depth < 3 && typeof current === 'object' && current !== null; depth++) {
    const { code } = current as { code?: unknown };
    if (typeof code === 'string' && RETRYABLE_SQL_ERRORS.has(code)) return true;
    current = (current as { driverError?: unknown }).driverError;
  }
  return false;
}
