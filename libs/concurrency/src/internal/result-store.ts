/** Outcome columns of one finished item. */
const PENDING = 0;
const OK = 1;
const FAILED = 2;

/**
 * Results of a collected batch, stored by column while the batch runs: the value (or error), the
 * duration, the attempts and the outcome of item `i` sit at position `i` of four arrays (about 21
 * bytes per item besides the value itself). A result object per item would cost V8 ~200 bytes of
 * heap by the time it is promoted; they are only built when the report's `results` is read.
 * @internal
 */
export class ResultStore<T> {
  private values: unknown[];
  private items: T[] | undefined;
  private durations: Float64Array;
  private attempts: Uint32Array;
  private outcomes: Uint8Array;
  private capacity: number;

  /**
   * @param source the input array when there is one (items are read from it), else undefined
   * @param size the number of items when known
   */
  constructor(
    private readonly source: ArrayLike<T> | undefined,
    size: number | undefined,
  ) {
    this.capacity = Math.max(16, size ?? 0);
    this.values = new Array(size ?? 0);
    this.items = source ? undefined : [];
    this.durations = new Float64Array(this.capacity);
    this.attempts = new Uint32Array(this.capacity);
    this.outcomes = new Uint8Array(this.capacity);
  }

  set(
    index: number,
    item: T,
    ok: boolean,
    value: unknown,
    attempts: number,
    durationMs: number,
  ): void {
    if (index >= this.capacity) this.grow(index + 1);
    this.values[index] = value;
    if (this.items) this.items[index] = item;
    this.durations[index] = durationMs;
    this.attempts[index] = attempts;
    this.outcomes[index] = ok ? OK : FAILED;
  }

  /** Result objects of every finished item, in input order. */
  materialize<R>(): Array<
    | { index: number; item: T; ok: true; value: R; attempts: number; durationMs: number }
    | { index: number; item: T; ok: false; error: unknown; attempts: number; durationMs: number }
  > {
    const out = [];
    const n = Math.min(this.capacity, Math.max(this.values.length, this.items?.length ?? 0));
    for (let i = 0; i < n; i++) {
      const outcome = this.outcomes[i];
      if (outcome === PENDING) continue;
      const item = this.source ? this.source[i] : (this.items as T[])[i];
      const base = { index: i, item };
      if (outcome === OK) {
        out.push({
          ...base,
          ok: true as const,
          value: this.values[i] as R,
          attempts: this.attempts[i],
          durationMs: this.durations[i],
        });
      } else {
        out.push({
          ...base,
          ok: false as const,
          error: this.values[i],
          attempts: this.attempts[i],
          durationMs: this.durations[i],
        });
      }
    }
    return out;
  }

  private grow(min: number): void {
    let capacity = this.capacity * 2;
    while (capacity < min) capacity *= 2;
    const durations = new Float64Array(capacity);
    durations.set(this.durations);
    const attempts = new Uint32Array(capacity);
    attempts.set(this.attempts);
    const outcomes = new Uint8Array(capacity);
    outcomes.set(this.outcomes);
    this.durations = durations;
    this.attempts = attempts;
    this.outcomes = outcomes;
    this.capacity = capacity;
  }
}
