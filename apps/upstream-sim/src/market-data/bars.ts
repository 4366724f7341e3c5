import { hash32, seededRandom } from '../faults/prng';

export interface Bar {
  /** Bar start, epoch ms. */
  t: number;
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
  /** Turnover (price × volume). */
  tu: number;
}

const MINUTE = 60_000;
const DAY = 86_400_000;

/** Bar length per iTick kType: 1/5/15/30/60 minutes, day, week, month (30 days). */
export const BAR_MS: Readonly<Record<number, number>> = {
  1: MINUTE,
  2: 5 * MINUTE,
  3: 15 * MINUTE,
  4: 30 * MINUTE,
  5: 60 * MINUTE,
  8: DAY,
  9: 7 * DAY,
  10: 30 * DAY,
};

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

/**
 * The one bar of (region, code, kType) starting at `t`: a pure function, so a test can recompute
 * exactly what the simulator served. Each bar is drawn from its own seed around a per-stock base.
 */
export function barAt(region: string, code: string, kType: number, t: number): Bar {
  const base = 5 + (hash32(`${region}:${code}`) % 19_500) / 100;
  const random = seededRandom(hash32(`${region}:${code}:${kType}:${t}`));
  const drift = (random() - 0.5) * 0.2;
  const o = round(base * (1 + drift), 2);
  const c = round(o * (1 + (random() - 0.5) * 0.06), 2);
  const h = round(Math.max(o, c) * (1 + random() * 0.02), 2);
  const l = round(Math.min(o, c) * (1 - random() * 0.02), 2);
  const v = Math.floor(1_000 + random() * 1_000_000);
  return { t, o, h, l, c, v, tu: round(v * c, 2) };
}

/** The `limit` bars ending at or before `endTime`, oldest first (the iTick `limit` + `et` query). */
export function klineBars(region: string, code: string, kType: number, endTime: number, limit: number): Bar[] {
  const barMs = BAR_MS[kType];
  if (!barMs) throw new RangeError(`unsupported kType ${kType}`);
  const last = Math.floor(endTime / barMs) * barMs;
  const bars: Bar[] = [];
  for (let i = limit - 1; i >= 0; i--) bars.push(barAt(region, code, kType, last - i * barMs));
  return bars;
}
