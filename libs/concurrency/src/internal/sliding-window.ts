/**
 * Two counters (`a`, `b`) over a sliding time window, kept in `buckets` ring buckets. O(1) per
 * update (amortised), no allocation after construction.
 */
export class SlidingWindow {
  private readonly bucketMs: number;
  private readonly a: Float64Array;
  private readonly b: Float64Array;
  private latest = -Infinity;
  private sumA = 0;
  private sumB = 0;

  constructor(
    readonly windowMs: number,
    private readonly buckets = 10,
  ) {
    this.bucketMs = windowMs / buckets;
    this.a = new Float64Array(buckets);
    this.b = new Float64Array(buckets);
  }

  add(now: number, a: number, b: number): void {
    const slot = this.advance(now);
    this.a[slot] += a;
    this.b[slot] += b;
    this.sumA += a;
    this.sumB += b;
  }

  totalA(now: number): number {
    this.advance(now);
    return this.sumA;
  }

  totalB(now: number): number {
    this.advance(now);
    return this.sumB;
  }

  reset(): void {
    this.a.fill(0);
    this.b.fill(0);
    this.sumA = 0;
    this.sumB = 0;
  }

  private advance(now: number): number {
    const bucket = Math.floor(now / this.bucketMs);
    const n = this.buckets;
    if (bucket > this.latest) {
      const clear = Math.min(n, bucket - this.latest);
      for (let i = 1; i <= clear; i++) {
        const slot = (((bucket - clear + i) % n) + n) % n;
        this.sumA -= this.a[slot];
        this.sumB -= this.b[slot];
        this.a[slot] = 0;
        this.b[slot] = 0;
      }
      this.latest = bucket;
    }
    // A time before `latest` (cannot happen with a monotonic clock) counts in the latest bucket.
    return ((this.latest % n) + n) % n;
  }
}
