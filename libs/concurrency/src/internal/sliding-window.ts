/**
 * Counts of calls and of one kind of event among or beside them (failures for the circuit
 * breaker, retries for the retry budget) over a sliding time window, kept in `buckets` ring
 * buckets. O(1) per update (amortised), no allocation after construction.
 */
export class SlidingWindow {
  private readonly bucketMs: number;
  private readonly callCounts: Float64Array;
  private readonly eventCounts: Float64Array;
  private latest = -Infinity;
  private callSum = 0;
  private eventSum = 0;

  constructor(
    readonly windowMs: number,
    private readonly buckets = 10,
  ) {
    this.bucketMs = windowMs / buckets;
    this.callCounts = new Float64Array(buckets);
    this.eventCounts = new Float64Array(buckets);
  }

  add(now: number, calls: number, events: number): void {
    const slot = this.advance(now);
    this.callCounts[slot] += calls;
    this.eventCounts[slot] += events;
    this.callSum += calls;
    this.eventSum += events;
  }

  /** Calls in the window ending at `now`. */
  calls(now: number): number {
    this.advance(now);
    return this.callSum;
  }

  /** Events in the window ending at `now`. */
  events(now: number): number {
    this.advance(now);
    return this.eventSum;
  }

  reset(): void {
    this.callCounts.fill(0);
    this.eventCounts.fill(0);
    this.callSum = 0;
    this.eventSum = 0;
  }

  private advance(now: number): number {
    const bucket = Math.floor(now / this.bucketMs);
    const n = this.buckets;
    if (bucket > this.latest) {
      const clear = Math.min(n, bucket - this.latest);
      for (let i = 1; i <= clear; i++) {
        const slot = (((bucket - clear + i) % n) + n) % n;
        this.callSum -= this.callCounts[slot];
        this.eventSum -= this.eventCounts[slot];
        this.callCounts[slot] = 0;
        this.eventCounts[slot] = 0;
      }
      this.latest = bucket;
    }
    // A time before `latest` (cannot happen with a monotonic clock) counts in the latest bucket.
    return ((this.latest % n) + n) % n;
  }
}
