import { z } from 'zod';
import { latencySampler, latencySchema } from './latency';
import { hash32, seededRandom } from './prng';

export const ERROR_KINDS = ['5xx', '429', 'reset', 'hang', 'lost-response'] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

const outageSchema = z
  .object({
    startMs: z.number().int(),
    endMs: z.number().int(),
    /** true: startMs/endMs are offsets from the moment the knobs are applied; false: epoch ms. */
    relative: z.boolean().default(false),
    /** How the route fails during the window: 503 + Retry-After, a connection reset, or a hang. */
    kind: z.enum(['503', 'reset', 'hang']).default('503'),
  })
  .strict()
  .refine((w) => w.endMs > w.startMs, { message: 'endMs must be after startMs', path: ['endMs'] });

/** The fault knobs of one route; every field optional (no latency, no errors). */
export const routeFaultsSchema = z
  .object({
    latency: latencySchema.optional(),
    /** Fraction of requests answered with `errorKind` (0..1). */
    errorRate: z.number().min(0).max(1).optional(),
    /**
     * `5xx`: HTTP `errorStatus` after the latency; `429`: rate limited with Retry-After;
     * `reset`: TCP reset after the latency; `hang`: no answer until the client gives up (or
     * `hangMs`, then a reset); `lost-response`: the request takes effect, then the connection is
     * reset before the answer (the client cannot tell whether it happened).
     */
    errorKind: z.enum(ERROR_KINDS).optional(),
    errorStatus: z.number().int().min(500).max(599).optional(),
    /** Retry-After (seconds) of injected 429s. */
    retryAfterS: z.number().int().min(0).max(3_600).optional(),
    /** Longest hang before the simulator resets the connection itself (default 10 minutes). */
    hangMs: z.number().int().min(1).max(3_600_000).optional(),
    /**
     * Capacity knee: above `capacity` requests in flight on this route, each request waits
     * `slopeMs` more per extra request in flight (an overloaded server).
     */
    knee: z
      .object({ capacity: z.number().int().min(1), slopeMs: z.number().min(0).max(60_000) })
      .strict()
      .optional(),
    outages: z.array(outageSchema).max(100).optional(),
    /** Seed of the latency and error draws (default: derived from the route name). */
    seed: z.number().int().optional(),
  })
  .strict();

/** Knobs as validated (defaults filled in). */
export type RouteFaults = z.output<typeof routeFaultsSchema>;
export type OutageWindow = z.output<typeof outageSchema>;

/** What the fault layer decided for one request. */
export type FaultDecision =
  | { action: 'serve'; delayMs: number }
  | { action: 'error'; kind: ErrorKind; delayMs: number }
  | { action: 'outage'; window: OutageWindow };

const DEFAULT_HANG_MS = 600_000;

/**
 * Draws latency and errors for one route from its knobs. Latency and errors use separate seeded
 * streams, so changing the latency knob does not change which requests fail.
 */
export class RouteFaultModel {
  /** The knobs as applied: relative outage windows resolved to epoch ms. */
  readonly faults: RouteFaults;
  private readonly latency: () => number;
  private readonly errorRandom: () => number;

  constructor(parsed: RouteFaults, route: string, appliedAtMs: number) {
    this.faults = {
      ...parsed,
      outages: parsed.outages?.map((w) =>
        w.relative
          ? {
              ...w,
              startMs: appliedAtMs + w.startMs,
              endMs: appliedAtMs + w.endMs,
              relative: false,
            }
          : w,
      ),
    };
    const seed = parsed.seed ?? hash32(route);
    this.latency = latencySampler(parsed.latency, seededRandom(seed));
    this.errorRandom = seededRandom(seed ^ 0x9e3779b9);
  }

  get hangMs(): number {
    return this.faults.hangMs ?? DEFAULT_HANG_MS;
  }

  /** `inFlight` counts this request too. */
  decide(nowMs: number, inFlight: number): FaultDecision {
    const window = this.faults.outages?.find((w) => nowMs >= w.startMs && nowMs < w.endMs);
    if (window) return { action: 'outage', window };
    const knee = this.faults.knee;
    const overload =
      knee && inFlight > knee.capacity ? (inFlight - knee.capacity) * knee.slopeMs : 0;
    const delayMs = this.latency() + overload;
    const rate = this.faults.errorRate ?? 0;
    if (rate > 0 && this.errorRandom() < rate) {
      return { action: 'error', kind: this.faults.errorKind ?? '5xx', delayMs };
    }
    return { action: 'serve', delayMs };
  }
}
