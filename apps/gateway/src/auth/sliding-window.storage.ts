import type { OnApplicationShutdown } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/** One caller's hits of one throttler, and its block. */
interface WindowRecord {
  /** Expiry times of the hits counted, oldest first, from `head` on (the ones before have expired). */
  hits: number[];
  head: number;
  /** The record's own window (X-RateLimit-Reset), renewed when it has run out. */
  expiresAt: number;
  isBlocked: boolean;
  blockExpiresAt: number;
}

/** Expired hits kept at the front before the array is compacted (each compaction copies the live ones once). */
const COMPACT_AFTER = 1_024;
const SWEEP_INTERVAL_MS = 60_000;

/**
 * `@nestjs/throttler`'s in-memory storage, the same answers at amortised O(1) per request: the
 * library's storage filters every hit of the window into a new array on each request (and spreads
 * them into `Math.min`), O(hits per window), 15 % of the gateway's CPU at a 1,000-request window.
 * A hit's expiry is its time plus the throttler's ttl, so the hits expire in the order they came:
 * expired ones are dropped from the front of a queue, and the oldest live one is at its head.
 * Like the library's, a caller over the limit is blocked for `blockDuration` (which the guard
 * sets to the ttl) and its hits start again from nothing once the block ends; idle records are
 * swept once a minute, so memory stays bounded by the callers of the last window.
 */
export class SlidingWindowThrottlerStorage implements ThrottlerStorage, OnApplicationShutdown {
  private readonly records = new Map<string, WindowRecord>();
  private sweep: NodeJS.Timeout | undefined;

  async increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<ThrottlerStorageRecord> {
    return this.hit(`${throttlerName}\u0000${key}`, ttl, limit, blockDuration, Date.now());
  }

  /** The library's increment (its block path; blockDuration > 0) at `now`. */
  hit(recordKey: string, ttl: number, limit: number, blockDuration: number, now: number): ThrottlerStorageRecord {
    this.sweep ??= setInterval(() => this.evictIdle(Date.now()), SWEEP_INTERVAL_MS).unref();
    let record = this.records.get(recordKey);
    if (!record) {
      record = { hits: [], head: 0, expiresAt: now + ttl, isBlocked: false, blockExpiresAt: 0 };
      this.records.set(recordKey, record);
    }
    dropExpired(record, now);
    let timeToExpire = Math.ceil((record.expiresAt - now) / 1000);
    if (timeToExpire <= 0) {
      record.expiresAt = now + ttl;
      timeToExpire = Math.ceil(ttl / 1000);
    }
    if (!record.isBlocked) record.hits.push(now + ttl);
    if (!record.isBlocked && record.hits.length - record.head > limit) {
      record.isBlocked = true;
      record.blockExpiresAt = now + blockDuration;
    }
    const timeToBlockExpire = Math.ceil((record.blockExpiresAt - now) / 1000);
    if (timeToBlockExpire <= 0 && record.isBlocked) {
      record.isBlocked = false;
      record.hits = [now + ttl];
      record.head = 0;
    }
    return { totalHits: record.hits.length - record.head, timeToExpire, isBlocked: record.isBlocked, timeToBlockExpire };
  }

  onApplicationShutdown(): void {
    clearInterval(this.sweep);
    this.sweep = undefined;
    this.records.clear();
  }

  /** Records with no live hit, no running block and their window run out (callers gone quiet). */
  private evictIdle(now: number): void {
    for (const [key, record] of this.records) {
      if (record.isBlocked && record.blockExpiresAt > now) continue;
      if (record.expiresAt > now) continue;
      if ((record.hits.at(-1) ?? 0) > now) continue;
      this.records.delete(key);
    }
  }
}

function dropExpired(record: WindowRecord, now: number): void {
  const { hits } = record;
  let head = record.head;
  while (head < hits.length && (hits[head] ?? 0) <= now) head++;
  if (head === hits.length) {
    record.hits = [];
    record.head = 0;
  } else if (head > COMPACT_AFTER && head * 2 > hits.length) {
    record.hits = hits.slice(head);
    record.head = 0;
  } else {
    record.head = head;
  }
}
