export * from './metrics-registry';
export * from './ops-server';
