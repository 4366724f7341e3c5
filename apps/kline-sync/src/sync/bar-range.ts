import { klineSyncErrors } from '../kline-sync.errors';

const MINUTE = 60_000;
const DAY = 86_400_000;

/**
 * Bar length per iTick kType, used to size the `limit` of a query (weeks and months are
 * calendar-aligned at the provider; an over-sized limit is harmless, bars are filtered by date).
 */
export const BAR_MS: Readonly<Record<number, number>> = {
  1: MINUTE,
  2: 5 * MINUTE,
  3: 15 * MINUTE,
  4: 30 * MINUTE,
  5: 60 * MINUTE,
  6: 120 * MINUTE,
  7: 240 * MINUTE,
  8: DAY,
  9: 7 * DAY,
  // Shortest month, so a range never asks for too few bars.
  10: 28 * DAY,
};

/** The provider returns at most this many bars per call; longer ranges are paged by end time. */
export const MAX_BARS_PER_CALL = 1_000;

export interface BarRange {
  /** First millisecond of startDate (UTC). */
  fromMs: number;
  /** Last millisecond of endDate (UTC). */
  toMs: number;
  /** Bars to ask for, back from `toMs`. */
  limit: number;
}

/**
 * Turns a date range (YYYY-MM-DD, inclusive) into the provider's `limit` + `et` query; a range of
 * more than `maxBars` bars is refused (each 1,000 bars cost a provider call per stock).
 */
export function barRange(startDate: string, endDate: string, kType: number, maxBars = Number.POSITIVE_INFINITY): BarRange {
  const barMs = BAR_MS[kType];
  if (!barMs) throw klineSyncErrors.invalidSyncArgument(`kType ${kType} is not supported`);
  const fromMs = Date.parse(`${startDate}T00:00:00Z`);
  const toMs = Date.parse(`${endDate}T23:59:59.999Z`);
  if (Number.isNaN(fromMs) || Number.isNaN(toMs)) {
    throw klineSyncErrors.invalidSyncArgument('startDate and endDate must be YYYY-MM-DD dates');
  }
  if (fromMs > toMs) throw klineSyncErrors.invalidSyncArgument('startDate must not be after endDate');
  const limit = Math.ceil((toMs - fromMs + 1) / barMs);
  if (limit > maxBars) {
    throw klineSyncErrors.rangeTooLong({ startDate, endDate, kType, bars: limit, maxBars });
  }
  return { fromMs, toMs, limit };
}
