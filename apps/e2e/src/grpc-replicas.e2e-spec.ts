import { SignJWT } from 'jose';
import {
  createTestDatabase,
  freePort,
  readMetric,
  spawnService,
  waitFor,
  type ServiceProcess,
  type TestDatabase,
} from '@batchgate/testing';
import { checkedFetchFor, type CheckedFetch } from './openapi-responses';

const JWT_SECRET = 'e2e-replicas-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
const CALLS = 40;
const LIST_TOKENS = { method: '/tokens.v1.TokenManagerService/ListTokens', code: 'OK' };

interface Replica {
  process: ServiceProcess;
  grpcPort: number;
  metricsUrl: string;
}

/** ListTokens calls a token-manager replica has answered, 0 before its first. */
const handledListTokens = async (replica: Replica): Promise<number> =>
  (await readMetric(replica.metricsUrl, 'grpc_server_handled_total', LIST_TOKENS)) ?? 0;

/**
 * One gateway, two token-manager replicas on one database, the gateway's TOKEN_MANAGER_URL naming
 * both addresses (as a headless Service's DNS name does in Kubernetes): the platform's gRPC client
 * balances per call (round_robin), so both replicas answer. With grpc-js's default (pick_first)
 * every call would go to the first replica.
 */
describe('gRPC calls from one gateway spread over two token-manager replicas', () => {
  let database: TestDatabase;
  const replicas: Replica[] = [];
  let gateway: ServiceProcess;
  let gatewayUrl: string;
  let gatewayFetch: CheckedFetch['fetch'];

  beforeAll(async () => {
    database = await createTestDatabase('e2e_replicas');
    for (let i = 0; i < 2; i += 1) {
      const [grpcPort, opsPort] = [await freePort(), await freePort()];
      const service = await spawnService({
        entry: 'apps/token-manager/src/main.ts',
        env: { ...database.env, GRPC_PORT: String(grpcPort), OPS_PORT: String(opsPort) },
        readyUrl: `http://127.0.0.1:${opsPort}/readyz`,
      });
      replicas.push({ process: service, grpcPort, metricsUrl: `http://127.0.0.1:${opsPort}/metrics` });
    }
    const httpPort = await freePort();
    gatewayUrl = `http://127.0.0.1:${httpPort}`;
    gateway = await spawnService({
      entry: 'apps/gateway/src/main.ts',
      env: {
        HTTP_PORT: String(httpPort),
        TOKEN_MANAGER_URL: `ipv4:${replicas.map((r) => `127.0.0.1:${r.grpcPort}`).join(',')}`,
        KLINE_SYNC_URL: '127.0.0.1:1',
        JWT_SECRET,
        USER_RATE_LIMIT: String(CALLS * 10),
      },
      readyUrl: `${gatewayUrl}/readyz`,
    });
    gatewayFetch = (await checkedFetchFor(gatewayUrl)).fetch;
  }, 90_000);

  afterAll(async () => {
    const exits = await Promise.all([gateway, ...replicas.map((r) => r.process)].filter(Boolean).map((p) => p.stop()));
    await database?.drop();
    expect(exits).toEqual(exits.map(() => 0));
  });

  it(`answers list calls through the gateway from both replicas, ${CALLS} of them alternating`, async () => {
    const admin = await new SignJWT({ sub: 'alice', tenant: 'acme', perms: ['tokens:admin'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(JWT_SECRET));
    const listTokens = async () => {
      const response = await gatewayFetch('/api/tokens', { headers: { authorization: `Bearer ${admin}` } });
      await response.arrayBuffer();
      return response.status;
    };
    // The second connection may still be opening during the first calls: call until both replicas
    // have answered (with pick_first the second never would).
    await waitFor(
      async () => {
        expect(await listTokens()).toBe(200);
        const handled = await Promise.all(replicas.map(handledListTokens));
        return handled.every((count) => count > 0) ? handled : undefined;
      },
      { what: 'both token-manager replicas to answer a call' },
    );

    const before = await Promise.all(replicas.map(handledListTokens));
    const statuses: number[] = [];
    for (let i = 0; i < CALLS; i += 1) statuses.push(await listTokens());
    expect(statuses).toEqual(statuses.map(() => 200));
    // Every call is counted once, on the replica that answered it.
    const after = await Promise.all(replicas.map(handledListTokens));
    const shares = after.map((count, i) => count - (before[i] ?? 0));
    expect(shares.reduce((sum, share) => sum + share, 0)).toBe(CALLS);
    // round_robin over two ready connections alternates: half each, give or take a call.
    for (const share of shares) expect(Math.abs(share - CALLS / 2)).toBeLessThanOrEqual(1);
  });
});
