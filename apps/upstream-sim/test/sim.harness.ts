import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { Readiness } from '@batchgate/platform/health';
import type { SimSettings } from '../src/admin/sim-settings';
import { createSimServer, type SimState } from '../src/sim-server';

export interface SimUnderTest {
  url: string;
  state: SimState;
  get: (path: string, headers?: Record<string, string>, signal?: AbortSignal) => Promise<Response>;
  post: (path: string, body: unknown, headers?: Record<string, string>) => Promise<Response>;
  close: () => Promise<void>;
}

/** The simulator in this process on a free loopback port, spoken to over real HTTP. */
export async function startSim(settings: SimSettings = {}): Promise<SimUnderTest> {
  const readiness = new Readiness();
  let url = '';
  const { app, state } = createSimServer({ settings, registry: new Registry(), readiness, publicUrl: () => url });
  await app.listen({ host: '127.0.0.1', port: 0 });
  readiness.markStarted();
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return {
    url,
    state,
    get: (path, headers = {}, signal) => fetch(`${url}${path}`, { headers, signal }),
    post: (path, body, headers = {}) =>
      fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }),
    close: () => app.close(),
  };
}
