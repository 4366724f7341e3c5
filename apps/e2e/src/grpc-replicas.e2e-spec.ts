import { SignJWT } from 'jose';
import { readMetric, startTestStack, waitFor, type TestStack } from '@batchgate/testing';
import { checkedFetchFor, type CheckedFetch } from './openapi-responses';

const JWT_SECRET = 'e2e-replicas-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
const CALLS = 40;
const LIST_TOKENS = { method: '/tokens.v1.TokenManagerService/ListTokens', code: 'OK' };

interface Replica {
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
  let stack: TestStack;
  let replicas: Replica[];
  let gatewayUrl: string;
  let gatewayFetch: CheckedFetch['fetch'];

  beforeAll(async () => {
    // The test stack gives the gateway both replicas' addresses (`ipv4:a,b`).
    stack = await startTestStack({
      processes: ['token-manager', 'gateway'],
      replicas: { 'token-manager': 2 },
      env: { gateway: { JWT_SECRET, USER_RATE_LIMIT: String(CALLS * 10) } },
    });
    replicas = [0, 1].map((i) => ({ metricsUrl: `${stack.url('token-manager', 'ops', i)}/metrics` }));
    gatewayUrl = stack.url('gateway', 'http');
    gatewayFetch = (await checkedFetchFor(gatewayUrl)).fetch;
  }, 90_000);

  afterAll(() => stack?.stop());

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
