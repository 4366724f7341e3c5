import { readMetric } from '@batchgate/testing';
import { startStack, type Stack } from './stack';

/** What the gateway works on at once in this test; the load is four times as many clients. */
const CAPACITY = 8;
const CLIENTS = 4 * CAPACITY;
const DURATION_MS = 4_000;

interface Answers {
  statuses: Map<number, number>;
  /** 503s that lacked Retry-After or the overload code (each one a failure). */
  badRefusals: string[];
}

/**
 * Overload is shed, not queued (SPEC §2.5, §2.8): at four times the gateway's in-flight capacity
 * the excess is refused at once with 503 + Retry-After, every admitted request is answered, no
 * other 5xx appears, and the process's memory stays bounded. How much admitted latency moves
 * is a timing goal: `npm run bench:gateway` measures it (its overload row).
 */
describe('overload at four times the capacity', () => {
  let stack: Stack;
  let path: string;
  let headers: Record<string, string>;

  beforeAll(async () => {
    stack = await startStack({ env: { gateway: { HTTP_MAX_IN_FLIGHT: String(CAPACITY), USER_RATE_LIMIT: '1000000', USER_RATE_WINDOW_MS: '1000' } } });
    headers = { authorization: `Bearer ${await stack.mintToken({ perms: ['tokens:admin'], expiresIn: '10m' })}`, 'content-type': 'application/json' };
    const created = await stack.fetch('/api/tokens', {
      method: 'POST',
      headers,
      body: JSON.stringify({ provider: 'itick', name: 'overload', secret: 'overload-secret-0001' }),
    });
    expect(created.status).toBe(201);
    path = '/api/tokens?page=1&size=20';
  }, 90_000);
  afterAll(() => stack?.stop());

  /** `clients` loops, each sending its next read when the previous one is answered, for `durationMs`. */
  const drive = async (clients: number, durationMs: number): Promise<Answers> => {
    const answers: Answers = { statuses: new Map(), badRefusals: [] };
    const until = Date.now() + durationMs;
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (Date.now() < until) {
          const response = await stack.fetch(path, { headers }); // each answer checked against the OpenAPI document
          const body = await response.text();
          answers.statuses.set(response.status, (answers.statuses.get(response.status) ?? 0) + 1);
          if (response.status === 503 && (response.headers.get('retry-after') !== '1' || !body.includes('"SERVICE.OVERLOADED"'))) answers.badRefusals.push(body);
        }
      }),
    );
    return answers;
  };

  /** The mean time the gateway took to answer the list with `status`, from its duration histogram. */
  async function meanServerSeconds(status: string): Promise<number> {
    const labels = { route: '/api/tokens', method: 'GET', status };
    const sum = await readMetric(`${stack.gatewayUrl}/metrics`, 'http_server_request_duration_seconds_sum', labels);
    const count = await readMetric(`${stack.gatewayUrl}/metrics`, 'http_server_request_duration_seconds_count', labels);
    return (sum ?? Number.NaN) / (count ?? Number.NaN);
  }

  it('answers every request: 200 for the admitted, 503 + Retry-After at once for the rest, memory bounded', async () => {
    await drive(CAPACITY, 1_000); // warm-up: JIT, connection pools, the JWT cache
    const rssBefore = await readMetric(`${stack.gatewayUrl}/metrics`, 'process_resident_memory_bytes');

    const answers = await drive(CLIENTS, DURATION_MS);

    const admitted = answers.statuses.get(200) ?? 0;
    const refused = answers.statuses.get(503) ?? 0;
    expect(admitted).toBeGreaterThan(CLIENTS); // the work happened
    expect(refused).toBeGreaterThan(0); // and the excess was shed
    expect([...answers.statuses.keys()].sort()).toEqual([200, 503]); // no other status, no other 5xx
    expect(answers.badRefusals).toEqual([]);
    // Refusals come before any work: by the gateway's own clock (its duration histogram), a
    // refusal takes less than a tenth of an admitted read on average. The clients' clock would
    // measure this test's own process: 32 loops checking every answer against the OpenAPI
    // document take as long per answer as the gateway and token-manager do.
    const refusalSeconds = await meanServerSeconds('503');
    const admittedSeconds = await meanServerSeconds('200');
    expect(admittedSeconds).toBeGreaterThan(0);
    expect(refusalSeconds).toBeLessThan(admittedSeconds / 10);
    const rssAfter = await readMetric(`${stack.gatewayUrl}/metrics`, 'process_resident_memory_bytes');
    expect(rssBefore).toBeGreaterThan(0);
    expect((rssAfter ?? Infinity) - (rssBefore ?? 0)).toBeLessThan(64 * 1024 * 1024); // no queue growing with the load
    // The shed requests are counted for the dashboards.
    expect(await readMetric(`${stack.gatewayUrl}/metrics`, 'http_server_requests_total', { route: '/api/tokens', method: 'GET', status: '503' })).toBe(refused);
  }, 60_000);
});

