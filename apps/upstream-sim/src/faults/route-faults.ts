import { z } from 'zod';
import { seededRandom } from './prng';

export const latencySchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('fixed'), ms: z.number().min(0).max(600_000) }),
  z.object({ kind: z.literal('uniform'), minMs: z.number().min(0), maxMs: z.number().min(0) }),
  z.object({ kind: z.literal('normal'), meanMs: z.number().min(0), stdDevMs: z.number().min(0) }),
  z.object({ kind: z.literal('lognormal'), medianMs: z.number().positive(), sigma: z.number().min(0).max(5) }),
]);

/** The fault knobs of one route; every field optional (no latency, no errors). */
export const routeFaultsSchema = z
  .object({
    latency: latencySchema.optional(),
    /** Fraction of requests answered with `errorKind` (0..1). */
    errorRate: z.number().min(0).max(1).optional(),
    errorKind: z.enum(['5xx', 'reset', 'hang']).optional(),
    /** Above `capacity` requests in flight, every extra one adds `slopeMs` to each answer (an overloaded server). */
    knee: z.object({ capacity: z.number().int().min(1), slopeMs: z.number().min(0) }).optional(),
    /** Windows (epoch ms) in which the route answers 503. */
    outages: z.array(z.object({ startMs: z.number(), endMs: z.number() })).optional(),
    /** Seed of the latency and error draws. */
    seed: z.number().int().optional(),
  })
  .strict();

export type RouteFaults = z.infer<typeof routeFaultsSchema>;
export type Latency = z.infer<typeof latencySchema>;

/** What the fault layer decided for one request. */
export type FaultDecision =
  | { action: 'serve'; delayMs: number }
  | { action: 'error'; delayMs: number }
  | { action: 'reset' }
  | { action: 'hang' }
  | { action: 'outage' };

/** Draws latency and errors for one route from its knobs with a seeded PRNG. */
export class RouteFaultModel {
  private readonly random: () => number;

  constructor(readonly faults: RouteFaults) {
    this.random = seededRandom(faults.seed ?? 1);
  }

  decide(nowMs: number, inFlight: number): FaultDecision {
    if (this.faults.outages?.some((w) => nowMs >= w.startMs && nowMs < w.endMs)) return { action: 'outage' };
    const knee = this.faults.knee;
    const overload = knee && inFlight > knee.capacity ? (inFlight - knee.capacity) * knee.slopeMs : 0;
    const delayMs = this.sampleLatency() + overload;
    if (this.faults.errorRate && this.random() < this.faults.errorRate) {
      const kind = this.faults.errorKind ?? '5xx';
      if (kind === 'reset') return { action: 'reset' };
      if (kind === 'hang') return { action: 'hang' };
      return { action: 'error', delayMs };
    }
    return { action: 'serve', delayMs };
  }

  private sampleLatency(): number {
    const latency = this.faults.latency;
    if (!latency) return 0;
    switch (latency.kind) {
      case 'fixed':
        return latency.ms;
      case 'uniform':
        return latency.minMs + this.random() * Math.max(0, latency.maxMs - latency.minMs);
      case 'normal':
        return Math.max(0, latency.meanMs + latency.stdDevMs * this.gaussian());
      case 'lognormal':
        return latency.medianMs * Math.exp(latency.sigma * this.gaussian());
    }
  }

  /** Box–Muller. */
  private gaussian(): number {
    const u = Math.max(this.random(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.random());
  }
}
