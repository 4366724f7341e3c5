/** Items per chunk when the number of items is not known (2^14). */
const CHUNK_BITS = 14;
/** Capacity a chunk of unknown final size starts with; it doubles up to the chunk size. */
const FIRST_CAPACITY = 16;

/**
 * `meta` byte of an item: 0 = not finished; 1 = finished with more attempts than fit in the byte
 * (then attempts and outcome are in `overflow`); otherwise `(attempts + 1) << 1 | ok`, which
 * covers 0–126 attempts.
 */
const PENDING = 0;
const OVERFLOW = 1;
const MAX_INLINE_ATTEMPTS = 126;

/** One column block: the results of items `base … base + capacity - 1`. */
interface Chunk<T> {
  capacity: number;
  /** Values and errors; created on the first one that is not `undefined`. */
  values: unknown[] | undefined;
  /** Items, when there is no input array to read them from. */
  items: T[] | undefined;
  /** Durations in whole ms (up to 2^32 - 1, ~49 days). */
  durations: Uint32Array;
  meta: Uint8Array;
}

/** A result as the store hands it out. */
export type StoredResult<T, R> =
  | { index: number; item: T; ok: true; value: R; attempts: number; durationMs: number }
  | { index: number; item: T; ok: false; error: unknown; attempts: number; durationMs: number };

/**
 * Results of a collected batch, stored by column while the batch runs: about 5 bytes per item of
 * bookkeeping (a 32-bit whole-ms duration, one byte for outcome and attempts) plus a pointer to the value
 * (or error), and a pointer to the item when the input is not an array. A result object per item
 * would cost V8 well over 100 bytes of heap; objects are only built when the report's `results`
 * is read.
 *
 * Columns are kept in chunks of 16,384 items, created when the first item of a chunk ends, so a
 * run of unknown length never copies or over-allocates more than one chunk; a chunk whose size
 * is known (array input) is allocated at its final size.
 * @internal
 */
export class ResultStore<T> {
  private readonly chunkBits: number;
  private readonly chunkMask: number;
  private readonly chunks: (Chunk<T> | undefined)[] = [];
  /** Highest index stored + 1. */
  private length = 0;
  /** Items stored. */
  private stored = 0;
  /** Attempts and outcome (`attempts * 2 + ok`) of items with more than 126 attempts. */
  private overflow: Map<number, number> | undefined = undefined;

  /**
   * @param source the input array when there is one (items are read from it), else undefined
   * @param size the number of items when known
   */
  constructor(
    private readonly source: ArrayLike<T> | undefined,
    private readonly size: number | undefined,
  ) {
    // A known size fits one chunk (allocated at that size); its items may still grow past it.
    this.chunkBits =
      size === undefined ? CHUNK_BITS : Math.min(30, Math.max(4, Math.ceil(Math.log2(size + 1))));
    this.chunkMask = (1 << this.chunkBits) - 1;
  }

  set(
    index: number,
    item: T,
    ok: boolean,
    value: unknown,
    attempts: number,
    durationMs: number,
  ): void {
    const chunk = this.chunks[index >>> this.chunkBits] ?? this.addChunk(index);
    const i = index & this.chunkMask;
    if (i >= chunk.capacity) this.grow(chunk, i + 1);
    if (value !== undefined) (chunk.values ??= new Array(chunk.capacity))[i] = value;
    if (!this.source && item !== undefined) (chunk.items ??= new Array(chunk.capacity))[i] = item;
    chunk.durations[i] = durationMs;
    if (chunk.meta[i] === PENDING) this.stored++;
    if (attempts <= MAX_INLINE_ATTEMPTS) {
      chunk.meta[i] = ((attempts + 1) << 1) | (ok ? 1 : 0);
    } else {
      chunk.meta[i] = OVERFLOW;
      (this.overflow ??= new Map()).set(index, attempts * 2 + (ok ? 1 : 0));
    }
    if (index >= this.length) this.length = index + 1;
  }

  /**
   * Result objects of every finished item, in input order. Walks the columns chunk by chunk into
   * an array of its final size: this runs once per report, over every item, so the loop keeps
   * the columns in locals and the two object shapes literal.
   */
  materialize<R>(): StoredResult<T, R>[] {
    const out: StoredResult<T, R>[] = new Array(this.stored);
    const source = this.source;
    let n = 0;
    for (let c = 0; c < this.chunks.length; c++) {
      const chunk = this.chunks[c];
      if (!chunk) continue; // a chunk with no finished item
      const base = c << this.chunkBits;
      const { values, items, durations, meta } = chunk;
      const end = Math.min(chunk.capacity, this.length - base);
      for (let i = 0; i < end; i++) {
        const m = meta[i];
        if (m === PENDING) continue;
        const index = base + i;
        let attempts: number;
        let ok: boolean;
        if (m === OVERFLOW) {
          const packed = (this.overflow as Map<number, number>).get(index) as number;
          attempts = Math.floor(packed / 2);
          ok = packed % 2 === 1;
        } else {
          attempts = (m >> 1) - 1;
          ok = (m & 1) === 1;
        }
        const item = source ? source[index] : ((items ? items[i] : undefined) as T);
        const value = values ? values[i] : undefined;
        out[n++] = ok
          ? { index, item, ok: true, value: value as R, attempts, durationMs: durations[i] }
          : { index, item, ok: false, error: value, attempts, durationMs: durations[i] };
      }
    }
    return out;
  }

  private addChunk(index: number): Chunk<T> {
    const base = index & ~this.chunkMask;
    const capacity =
      this.size === undefined
        ? FIRST_CAPACITY
        : Math.min(this.chunkMask + 1, Math.max(1, this.size - base)); // an array can grow while it runs
    const chunk: Chunk<T> = {
      capacity,
      values: undefined,
      items: undefined,
      durations: new Uint32Array(capacity),
      meta: new Uint8Array(capacity),
    };
    this.chunks[index >>> this.chunkBits] = chunk;
    return chunk;
  }

  /** Grows a chunk of unknown final size to hold `min` items (doubling, at most a full chunk). */
  private grow(chunk: Chunk<T>, min: number): void {
    let capacity = Math.max(FIRST_CAPACITY, chunk.capacity * 2);
    while (capacity < min) capacity *= 2;
    capacity = Math.min(this.chunkMask + 1, capacity);
    const durations = new Uint32Array(capacity);
    durations.set(chunk.durations);
    const meta = new Uint8Array(capacity);
    meta.set(chunk.meta);
    chunk.durations = durations;
    chunk.meta = meta;
    if (chunk.values) chunk.values.length = capacity;
    if (chunk.items) chunk.items.length = capacity;
    chunk.capacity = capacity;
  }
}
