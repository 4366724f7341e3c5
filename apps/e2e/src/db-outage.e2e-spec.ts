import { startTcpProxy, waitFor, type TcpProxy } from '@batchgate/testing';
import { startStack, type Stack } from './stack';

const QUERY_TIMEOUT_MS = 1_000;
const ACQUIRE_TIMEOUT_MS = 500;

/**
 * token-manager's MySQL behind a TCP proxy that goes silent (a partition): requests through the
 * gateway answer 503 + Retry-After within the database timeouts — not the gateway's 10 s gRPC
 * deadline, not a hang — and the service recovers by itself when the network heals.
 */
describe('a database that stops answering', () => {
  let proxy: TcpProxy;
  let stack: Stack;
  let bearer: Record<string, string>;

  beforeAll(async () => {
    proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(process.env['DB_PORT'] ?? 3306) });
    stack = await startStack({
      env: {
        'token-manager': {
        DB_HOST: proxy.host,
        DB_PORT: String(proxy.port),
        DB_QUERY_TIMEOUT_MS: String(QUERY_TIMEOUT_MS),
        DB_ACQUIRE_TIMEOUT_MS: String(ACQUIRE_TIMEOUT_MS),
        },
      },
    });
    bearer = { authorization: `Bearer ${await stack.mintToken({ perms: ['tokens:admin'] })}` };
  }, 90_000);
  afterAll(async () => {
    proxy?.setMode('pass');
    await stack?.stop();
    await proxy?.close();
  });

  const listTokens = async () => {
    const startedAt = Date.now();
    const response = await stack.fetch(`/api/tokens?page=1`, { headers: bearer });
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as { error?: { code: string } }, ms: Date.now() - startedAt };
  };

  it('answers 503 + Retry-After within its timeouts during the outage, and 200 again after it', async () => {
    expect((await listTokens()).status).toBe(200);

    proxy.setMode('blackhole');
    const during = await Promise.all(Array.from({ length: 6 }, listTokens));
    for (const answer of during) {
      expect(answer).toMatchObject({ status: 503, retryAfter: expect.stringMatching(/^\d+$/) });
      expect(answer.body.error?.code).toBeDefined();
      // Bounded by the query timeout (a held connection) or the acquire timeout (waiting for one).
      expect(answer.ms).toBeLessThan(QUERY_TIMEOUT_MS + ACQUIRE_TIMEOUT_MS + 1_500);
    }
    // Still 503 and still quick later in the outage: nothing piles up behind the silent database.
    const later = await listTokens();
    expect(later.status).toBe(503);
    expect(later.ms).toBeLessThan(QUERY_TIMEOUT_MS + ACQUIRE_TIMEOUT_MS + 1_500);

    proxy.setMode('pass');
    await waitFor(async () => ((await listTokens()).status === 200 ? true : undefined), { timeoutMs: 20_000, intervalMs: 200, what: 'token list served again' });
  }, 60_000);
});
