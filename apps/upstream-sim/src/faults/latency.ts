import { z } from 'zod';
import { gaussian } from './prng';

const ms = z.number().min(0).max(600_000);

/**
 * A latency distribution. `capMs` bounds any draw (a log-normal tail is otherwise unbounded);
 * negative normal draws are clamped to 0.
 */
export const latencySchema = z
  .discriminatedUnion('kind', [
    z.object({ kind: z.literal('fixed'), ms, capMs: ms.optional() }).strict(),
    z.object({ kind: z.literal('uniform'), minMs: ms, maxMs: ms, capMs: ms.optional() }).strict(),
    z
      .object({ kind: z.literal('normal'), meanMs: ms, stdDevMs: ms, capMs: ms.optional() })
      .strict(),
    z
      .object({
        kind: z.literal('lognormal'),
        /** The median draw; the mean is medianMs × e^(σ²/2). */
        medianMs: z.number().positive().max(600_000),
        sigma: z.number().min(0).max(5),
        capMs: ms.optional(),
      })
      .strict(),
  ])
  .refine((l) => l.kind !== 'uniform' || l.maxMs >= l.minMs, {
    message: 'maxMs must not be below minMs',
    path: ['maxMs'],
  });

export type Latency = z.infer<typeof latencySchema>;

/** Returns a function that draws one latency (ms) from `latency` with the given uniform source. */
export function latencySampler(latency: Latency | undefined, random: () => number): () => number {
  if (!latency) return () => 0;
  const cap = latency.capMs ?? Number.POSITIVE_INFINITY;
  const capped = (draw: () => number) => () => Math.min(cap, draw());
  switch (latency.kind) {
    case 'fixed':
      return capped(() => latency.ms);
    case 'uniform':
      return capped(() => latency.minMs + random() * (latency.maxMs - latency.minMs));
    case 'normal':
      return capped(() => Math.max(0, latency.meanMs + latency.stdDevMs * gaussian(random)));
    case 'lognormal':
      return capped(() => latency.medianMs * Math.exp(latency.sigma * gaussian(random)));
  }
}
