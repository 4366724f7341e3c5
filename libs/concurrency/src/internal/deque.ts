/**
 * FIFO queue on a power-of-two ring buffer: O(1) push and shift with no per-element allocation.
 * `Array.prototype.shift()` is O(n) on large arrays, which is exactly what the hot paths avoid.
 */
export class Deque<T> {
  private buffer: (T | undefined)[];
  private head = 0;
  private count = 0;
  private mask: number;

  constructor(initialCapacity = 16) {
    let capacity = 4;
    while (capacity < initialCapacity) capacity <<= 1;
    this.buffer = new Array<T | undefined>(capacity);
    this.mask = capacity - 1;
  }

  get size(): number {
    return this.count;
  }

  push(value: T): void {
    if (this.count > this.mask) this.grow();
    this.buffer[(this.head + this.count) & this.mask] = value;
    this.count++;
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const value = this.buffer[this.head];
    this.buffer[this.head] = undefined;
    this.head = (this.head + 1) & this.mask;
    this.count--;
    return value;
  }

  peek(): T | undefined {
    return this.count === 0 ? undefined : this.buffer[this.head];
  }

  /** Removes every element, calling `visit` on each in FIFO order. */
  drain(visit: (value: T) => void): void {
    while (this.count > 0) visit(this.shift() as T);
  }

  private grow(): void {
    const old = this.buffer;
    const capacity = old.length * 2;
    const next = new Array<T | undefined>(capacity);
    for (let i = 0; i < this.count; i++) next[i] = old[(this.head + i) & this.mask];
    this.buffer = next;
    this.head = 0;
    this.mask = capacity - 1;
  }
}
