import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { SimSettingsInput } from '../src/config/sim-settings';
import { createSimServer, type SimServerOptions } from '../src/sim-server';
import type { EffectRecord, RouteCounters } from '../src/stats/sim-stats';
import type { MarketTokenSettings, MarketTokenUsage } from '../src/market-data/market-tokens';

export interface SimStatsBody {
  since: string;
  routes: Record<string, RouteCounters>;
  effects: Record<string, Record<string, EffectRecord>>;
  market: { tokens: Array<MarketTokenSettings & { usage: MarketTokenUsage }> };
  webhook: { deliveries: number; withoutKey: number };
}

export interface SimUnderTest {
  url: string;
  app: FastifyInstance;
  get: (path: string, headers?: Record<string, string>, signal?: AbortSignal) => Promise<Response>;
  post: (
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
    signal?: AbortSignal,
  ) => Promise<Response>;
  del: (path: string) => Promise<Response>;
  /** POST /__sim/config; fails the test unless the simulator accepted the settings. */
  configure: (settings: SimSettingsInput) => Promise<void>;
  stats: () => Promise<SimStatsBody>;
  /** POST /__sim/reset. */
  reset: (body?: { keepTokens?: boolean }) => Promise<void>;
  close: () => Promise<void>;
}

export const json = async <T = Record<string, unknown>>(
  response: Response | Promise<Response>,
): Promise<T> => (await (await response).json()) as T;

/** The simulator in this process on a free loopback port, spoken to over real HTTP only. */
export async function startSim(options: SimServerOptions = {}): Promise<SimUnderTest> {
  const app = createSimServer(options);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const post = (
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    signal?: AbortSignal,
  ) =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  return {
    url,
    app,
    get: (path, headers = {}, signal) => fetch(`${url}${path}`, { headers, signal }),
    post,
    del: (path) => fetch(`${url}${path}`, { method: 'DELETE' }),
    configure: async (settings) => {
      const response = await post('/__sim/config', settings);
      if (response.status !== 200)
        throw new Error(`configure: HTTP ${response.status} ${await response.text()}`);
      await response.arrayBuffer();
    },
    stats: () => json<SimStatsBody>(fetch(`${url}/__sim/stats`)),
    reset: async (body) => {
      const response = await post('/__sim/reset', body ?? {});
      if (response.status !== 200)
        throw new Error(`reset: HTTP ${response.status} ${await response.text()}`);
      await response.arrayBuffer();
    },
    close: () => app.close(),
  };
}

/** A clock a test moves by hand. */
export function manualClock(start: number): {
  now: () => number;
  advance: (ms: number) => void;
  set: (t: number) => void;
} {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms), set: (value) => (t = value) };
}
