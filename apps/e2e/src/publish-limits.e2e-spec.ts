import { readMetric, waitFor } from '@batchgate/testing';
import { checkedFetchFor, type CheckedFetch } from './openapi-responses';
import { startStack, type Stack } from './stack';

/**
 * The per-user publish limits hold over two gateways and two publish replicas (SPEC §6): they
 * are kept in publish's MySQL, never in a process's memory.
 */
describe('publish limits across replicas', () => {
  let stack: Stack;
  let gateways: CheckedFetch[];

  beforeAll(async () => {
    stack = await startStack({ services: ['publish'], replicas: { publish: 2, gateway: 2 } });
    gateways = [await checkedFetchFor(stack.services.url('gateway', 'http', 0)), await checkedFetchFor(stack.services.url('gateway', 'http', 1))];
  }, 90_000);
  afterAll(() => stack?.stop());

  const bearerOf = async (sub: string) => ({
    authorization: `Bearer ${await stack.mintToken({ sub, perms: ['publish:run', 'publish:list'] })}`,
    'content-type': 'application/json',
  });
  const successesOf = async (replica: number) =>
    (await readMetric(`${stack.services.url('publish', 'ops', replica)}/metrics`, 'jobs_items_total', { kind: 'article', outcome: 'success' })) ?? 0;

  it('accepts exactly 30 of a burst of 60 in the minute, never runs more than 2 at once, and leaves another user unaffected', async () => {
    await fetch(`${stack.services.url('upstream-sim', 'http')}/__sim/config`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ routes: { 'publish.article': { latency: { kind: 'fixed', ms: 300 } } } }),
    });
    const burster = await bearerOf('burster');
    const other = await bearerOf('bystander');
    const submit = (gateway: CheckedFetch, headers: Record<string, string>, n: number) =>
      gateway.fetch('/api/publish_zhihu', { method: 'POST', headers, body: JSON.stringify({ title: `burst ${n}`, content: 'c', article_id: n + 1 }) });

    const [answers, bystander] = await Promise.all([
      Promise.all(Array.from({ length: 60 }, (_, n) => submit(gateways[n % 2] as CheckedFetch, burster, n))),
      submit(gateways[1] as CheckedFetch, other, 1000),
    ]);
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status === 202)).toHaveLength(30);
    expect(statuses.filter((status) => status === 429)).toHaveLength(30);
    for (const refused of answers.filter((answer) => answer.status === 429)) {
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    // The other user is not held back by the burster's limits.
    expect(bystander.status).toBe(202);
    expect(((await bystander.json()) as { status: string }).status).toBe('queued');

    const publish = stack.services.database('publish');
    await waitFor(
      async () => {
        const [row] = await publish.query<{ n: number }>("SELECT COUNT(*) AS n FROM job WHERE user_id = 'burster' AND status = 'success'");
        return Number(row?.n) === 30 ? true : undefined;
      },
      { timeoutMs: 60_000, what: "the burster's 30 tasks to succeed" },
    );
    // Never more than 2 of the burster's at once, over both replicas: their runs (claim to end) never overlap 3 deep.
    const runs = await publish.query<{ started_at: Date; finished_at: Date }>("SELECT started_at, finished_at FROM job_item WHERE user_id = 'burster'");
    const deepest = Math.max(...runs.map((run) => runs.filter((other) => other.started_at <= run.started_at && run.started_at < other.finished_at).length));
    expect(deepest).toBe(2);
    // Both replicas ran some of them.
    const perReplica = [await successesOf(0), await successesOf(1)];
    expect(perReplica[0] + perReplica[1]).toBe(31);
    expect(perReplica.every((count) => count > 0)).toBe(true);
  }, 120_000);
});
