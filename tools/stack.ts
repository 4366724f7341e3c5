/**
 * The processes of the local stack, in start order. Adding a service = one entry here (and its
 * defaults in the README's configuration table).
 */
export interface StackProcess {
  name: string;
  entry: string;
  /** URL answering 200 once the process is ready. */
  readyUrl: string;
  /** Database the process owns (created before start), if any. */
  database?: string;
  /** Environment added for the local stack. */
  env?: Record<string, string>;
  color: string;
}

export const STACK: StackProcess[] = [
  {
    name: 'upstream-sim',
    entry: 'apps/upstream-sim/src/main.ts',
    readyUrl: 'http://127.0.0.1:4100/readyz',
    // Some latency and a few failures, and 12 demo market-data tokens (demo-itick-token-1..12).
    env: { SIM_PROFILE: 'demo' },
    color: 'gray',
  },
  {
    name: 'token-manager',
    entry: 'apps/token-manager/src/main.ts',
    readyUrl: 'http://127.0.0.1:9101/readyz',
    database: 'batchgate_tokens',
    color: 'magenta',
  },
  {
    name: 'kline-sync',
    entry: 'apps/kline-sync/src/main.ts',
    readyUrl: 'http://127.0.0.1:9105/readyz',
    database: 'batchgate_kline_sync',
    color: 'yellow',
  },
  {
    name: 'gateway',
    entry: 'apps/gateway/src/main.ts',
    readyUrl: 'http://127.0.0.1:3000/readyz',
    color: 'cyan',
  },
];
