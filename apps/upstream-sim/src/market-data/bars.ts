import { hash32, seededRandom } from '../faults/prng';

/** One K-line bar in the iTick shape. */
export interface Bar {
  /** Bar start, epoch ms (UTC). */
  t: number;
  o: number;
  h: number;
  l: number;
  c: number;
  /** Volume (shares). */
  v: number;
  /** Turnover (volume × average price). */
  tu: number;
}

const MINUTE = 60_000;
const DAY = 86_400_000;
/** 1970-01-05 was a Monday: weeks start on Mondays, 00:00 UTC. */
const FIRST_MONDAY = 4 * DAY;

/**
 * iTick kTypes: 1 = 1 min, 2 = 5 min, 3 = 15 min, 4 = 30 min, 5 = 1 h, 6 = 2 h, 7 = 4 h,
 * 8 = day, 9 = week (Monday), 10 = month (calendar). All in UTC, around the clock: the
 * simulator has no trading sessions or holidays.
 */
export const KTYPES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] as const;
const FIXED_MS: Readonly<Record<number, number>> = {
  1: MINUTE,
  2: 5 * MINUTE,
  3: 15 * MINUTE,
  4: 30 * MINUTE,
  5: 60 * MINUTE,
  6: 120 * MINUTE,
  7: 240 * MINUTE,
  8: DAY,
};

export function isKType(kType: number): boolean {
  return Number.isInteger(kType) && kType >= 1 && kType <= 10;
}

/** Start of the bar of `kType` that contains `t`. */
export function barStart(kType: number, t: number): number {
  const fixed = FIXED_MS[kType];
  if (fixed) return Math.floor(t / fixed) * fixed;
  if (kType === 9) return Math.floor((t - FIRST_MONDAY) / (7 * DAY)) * 7 * DAY + FIRST_MONDAY;
  if (kType === 10) {
    const d = new Date(t);
    return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  }
  throw new RangeError(`unsupported kType ${kType}`);
}

/** Start of the bar after the one starting at `start`. */
export function nextBarStart(kType: number, start: number): number {
  const fixed = FIXED_MS[kType];
  if (fixed) return start + fixed;
  if (kType === 9) return start + 7 * DAY;
  if (kType === 10) {
    const d = new Date(start);
    return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  }
  throw new RangeError(`unsupported kType ${kType}`);
}

/** Start of the bar before the one starting at `start`. */
export function previousBarStart(kType: number, start: number): number {
  return barStart(kType, start - 1);
}

const round2 = (value: number) => Math.round(value * 100) / 100;

/** murmur3's 32-bit finaliser: spreads every input bit over the output. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

interface Stock {
  seed: number;
  /** Base price. */
  base: number;
  /** Typical volume per day. */
  dailyVolume: number;
}

function stockOf(region: string, code: string): Stock {
  const seed = hash32(`${region}:${code}`);
  return { seed, base: 5 + (seed % 19_500) / 100, dailyVolume: 100_000 + (seed % 9_900_000) };
}

/**
 * The stock's smooth price level at `t`: a few slow waves around its base price, so consecutive
 * bars join up like a chart (a bar's close is near the next bar's open) and every timeframe agrees.
 */
function level(stock: Stock, t: number): number {
  const days = t / DAY;
  const phase = (shift: number) => (((stock.seed >>> shift) & 0x3ff) / 0x400) * 2 * Math.PI;
  return (
    stock.base *
    Math.exp(
      0.25 * Math.sin((2 * Math.PI * days) / 181 + phase(0)) +
        0.08 * Math.sin((2 * Math.PI * days) / 23 + phase(10)) +
        0.02 * Math.sin((2 * Math.PI * days) / 1.7 + phase(20)),
    )
  );
}

/** One bar from its stock, kType, start and end, and the price levels at both ends. */
function makeBar(
  stock: Stock,
  kType: number,
  t: number,
  end: number,
  levelAtStart: number,
  levelAtEnd: number,
): Bar {
  const barMs = end - t;
  const seed = fmix32(
    fmix32(stock.seed ^ Math.imul(kType, 0x9e3779b1) ^ t % 4_294_967_296) ^
      Math.floor(t / 4_294_967_296),
  );
  const random = seededRandom(seed);
  const noise = Math.min(0.03, 0.002 * Math.sqrt(barMs / MINUTE));
  const o = round2(levelAtStart * (1 + noise * (random() - 0.5)));
  const c = round2(levelAtEnd * (1 + noise * (random() - 0.5)));
  const h = round2(Math.max(o, c) * (1 + (random() * noise) / 2));
  const l = round2(Math.min(o, c) * (1 - (random() * noise) / 2));
  const v = Math.max(1, Math.floor(stock.dailyVolume * (barMs / DAY) * (0.5 + random())));
  return { t, o, h, l, c, v, tu: round2((v * (o + h + l + c)) / 4) };
}

/**
 * The bar of (region, code, kType) starting at `t` (a bar start): a pure function, so a test
 * can recompute exactly what the simulator served, in this process or another.
 */
export function barAt(region: string, code: string, kType: number, t: number): Bar {
  const stock = stockOf(region, code);
  const end = nextBarStart(kType, t);
  return makeBar(stock, kType, t, end, level(stock, t), level(stock, end));
}

/**
 * The iTick `limit` + `et` query: the `limit` bars up to the one containing `endTime`, oldest
 * first. Equal to `barAt` for each start, computed with one price level per bar boundary.
 */
export function klineBars(
  region: string,
  code: string,
  kType: number,
  endTime: number,
  limit: number,
): Bar[] {
  const stock = stockOf(region, code);
  const starts = new Array<number>(limit + 1);
  starts[limit] = nextBarStart(kType, barStart(kType, endTime));
  for (let i = limit - 1; i >= 0; i--) starts[i] = previousBarStart(kType, starts[i + 1] ?? 0);
  const bars = new Array<Bar>(limit);
  let levelAtStart = level(stock, starts[0] ?? 0);
  for (let i = 0; i < limit; i++) {
    const t = starts[i] ?? 0;
    const end = starts[i + 1] ?? 0;
    const levelAtEnd = level(stock, end);
    bars[i] = makeBar(stock, kType, t, end, levelAtStart, levelAtEnd);
    levelAtStart = levelAtEnd;
  }
  return bars;
}
