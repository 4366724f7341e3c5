import { Counter, Histogram, type Registry } from 'prom-client';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** RED metrics of one side (server or client) of gRPC, labelled by full method and status code. */
export interface GrpcRedMetrics {
  started: Counter<'method'>;
  handled: Counter<'method' | 'code'>;
  duration: Histogram<'method' | 'code'>;
}

const cache = new WeakMap<Registry, Map<string, GrpcRedMetrics>>();

/** Creates (once per registry and side) the `grpc_{server,client}_*` metrics. */
export function grpcRedMetrics(registry: Registry, side: 'server' | 'client'): GrpcRedMetrics {
  let perSide = cache.get(registry);
  if (!perSide) {
    perSide = new Map();
    cache.set(registry, perSide);
  }
  const existing = perSide.get(side);
  if (existing) return existing;
  const metrics: GrpcRedMetrics = {
    started: new Counter({
      name: `grpc_${side}_started_total`,
      help: `gRPC calls started (${side} side)`,
      labelNames: ['method'],
      registers: [registry],
    }),
    handled: new Counter({
      name: `grpc_${side}_handled_total`,
      help: `gRPC calls completed, by status code (${side} side)`,
      labelNames: ['method', 'code'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: `grpc_${side}_handling_seconds`,
      help: `gRPC call duration in seconds (${side} side)`,
      labelNames: ['method', 'code'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
  };
  perSide.set(side, metrics);
  return metrics;
}
