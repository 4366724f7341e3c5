export * from './metrics-registry';
export * from './ops-server';
export * from './concurrency-metrics';
