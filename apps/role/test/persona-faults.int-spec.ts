import { lastValueFrom } from 'rxjs';
import type { RoleServiceClient, RoleTask } from '@batchgate/contracts/role/v1/role';
import { readMetric, waitFor } from '@batchgate/testing';
import { seedProfile, startRoleStack, type RoleStack, type SimStats } from './role-stack.harness';

const USER = 'alice';

/**
 * Crashes and outages: a replica killed mid-task loses nothing (another one runs the task again)
 * and the webhook hears of each task once; an outage of the chat API is waited out.
 *
 * One replica runs at a time, so the test knows which one holds the task: a crash test kills it
 * inside the task, then starts the next one.
 */
describe('role: persona tasks through crashes and outages', () => {
  let stack: RoleStack;
  /** The replica index that is alive (and so runs the next task). */
  let live = 0;

  beforeAll(async () => {
    // A short ack wait: a killed replica's task is handed to the next one within seconds (not
    // shorter: a loaded machine delays the heartbeats of a live run, and its task would run twice).
    stack = await startRoleStack({ env: { ROLE_ACK_WAIT_MS: '5000', CHAT_BREAKER_RECOVERY_MS: '500' } });
  }, 90_000);

  afterAll(async () => {
    await stack?.stop();
  });

  beforeEach(async () => {
    await stack.sim('/__sim/reset', {});
  });

  const stats = () => stack.sim<SimStats>('/__sim/stats');
  const ended = (client: RoleServiceClient, tenant: string, requestId: string) =>
    waitFor(
      async () => {
        const task: RoleTask = await lastValueFrom(client.getRoleTask({ requestId, tenant, userId: USER }));
        return ['success', 'failed', 'cancelled'].includes(task.status) ? task : undefined;
      },
      { timeoutMs: 40_000, what: `task ${requestId} to end` },
    );

  /**
   * Submits a task to the live replica, waits until its `route` call is in flight, kills the
   * replica (SIGKILL: nothing runs after it) and starts the one that takes the task over.
   */
  const killDuring = async (route: 'chat.completions' | 'webhook.notify') => {
    const { tenant, taskId } = await seedProfile(stack.database);
    const answer = await lastValueFrom(stack.clientOf(live).createRole({ tenantId: tenant, taskId, strategyId: 's', userId: USER }));
    await waitFor(async () => ((await stats()).routes[route]?.inFlight === 1 ? true : undefined), { what: `the ${route} call in flight` });
    // Killed first: starting a replica takes seconds on a loaded machine, long enough for the call to end.
    await stack.services.process('role', live).kill();
    await stack.services.addReplica('role');
    live = stack.services.replicas('role').length - 1;
    return { tenant, requestId: answer.requestId, client: stack.clientOf(live) };
  };

  it('a replica killed during the AI call: another replica runs the task again, and the webhook hears of it once', async () => {
    await stack.sim('/__sim/config', { routes: { 'chat.completions': { latency: { kind: 'fixed', ms: 4_000 } } } });
    const { tenant, requestId, client } = await killDuring('chat.completions');
    const done = await ended(client, tenant, requestId);
    expect(done.status).toBe('success');
    expect(done.attempts).toBeGreaterThanOrEqual(2);
    const seen = await stats();
    // The killed run's call, and the rerun's.
    expect(seen.routes['chat.completions']?.requests).toBeGreaterThanOrEqual(2);
    expect(seen.routes['chat.completions']?.aborted).toBeGreaterThanOrEqual(1);
    expect(seen.effects['webhook.delivery']?.[requestId]?.effects).toBe(1);
  });

  it('a replica killed while notifying: the rerun keeps the stored persona, and its second notice is the same notification', async () => {
    // The receiver takes the first notice (the simulator finishes a request whose client left), but the killed replica never records it.
    await stack.sim('/__sim/config', { routes: { 'webhook.notify': { latency: { kind: 'fixed', ms: 4_000 } } } });
    const { tenant, requestId, client } = await killDuring('webhook.notify');
    const done = await ended(client, tenant, requestId);
    expect(done.status).toBe('success');
    expect(done.attempts).toBeGreaterThanOrEqual(2);
    const seen = await stats();
    // The persona was stored before the crash: not asked for again.
    expect(seen.routes['chat.completions']?.requests).toBe(1);
    expect(seen.routes['webhook.notify']?.requests).toBeGreaterThanOrEqual(2);
    const delivery = seen.effects['webhook.delivery']?.[requestId];
    expect(delivery?.effects).toBe(1);
    expect(delivery?.repeats).toBeGreaterThanOrEqual(1);
    const roles = await stack.database.query<{ n: number }>('SELECT COUNT(*) AS n FROM role WHERE request_id = ?', [requestId]);
    expect(Number(roles[0]?.n)).toBe(1);
  });

  it('the webhook failing now and then, then down: the notice is retried with the same key and waits the outage out, one notification', async () => {
    const client = stack.clientOf(live);
    await stack.sim('/__sim/config', {
      routes: {
        'webhook.notify': { errorRate: 0.5, errorKind: '5xx', errorStatus: 502, outages: [{ startMs: 0, endMs: 2_000, relative: true, kind: '503' }] },
      },
    });
    const outageEnd = Date.now() + 2_000;
    const { tenant, taskId } = await seedProfile(stack.database);
    const answer = await lastValueFrom(client.createRole({ tenantId: tenant, taskId, strategyId: 's', userId: USER }));
    const done = await ended(client, tenant, answer.requestId);
    // One run: the outage was waited out, not failed through the task's runs.
    expect(done).toMatchObject({ status: 'success', attempts: 1 });
    expect(Date.parse(done.finishedAt)).toBeGreaterThanOrEqual(outageEnd);
    const seen = await stats();
    expect(seen.routes['webhook.notify']?.requests).toBeGreaterThan(1);
    expect(seen.effects['webhook.delivery']?.[answer.requestId]).toEqual({ effects: 1, repeats: 0 });
  });

  it('an outage of the chat API opens its breaker; the tasks wait it out and finish after it', async () => {
    const client = stack.clientOf(live);
    const metricsUrl = stack.metricsUrl(live);
    // The window opens when the simulator applies it, so it ends no earlier than this.
    const outageEnd = Date.now() + 3_000;
    await stack.sim('/__sim/config', {
      routes: { 'chat.completions': { latency: { kind: 'fixed', ms: 50 }, outages: [{ startMs: 0, endMs: 3_000, relative: true, kind: '503' }] } },
    });
    const tasks = [];
    for (let i = 0; i < 5; i++) {
      const { tenant, taskId } = await seedProfile(stack.database, `outage-${i}`);
      const answer = await lastValueFrom(client.createRole({ tenantId: tenant, taskId, strategyId: 's', userId: USER }));
      tasks.push({ tenant, requestId: answer.requestId });
    }
    await waitFor(async () => ((await readMetric(metricsUrl, 'concurrency_breaker_state', { name: 'chat-upstream' })) === 2 ? true : undefined), {
      what: 'the chat breaker to open',
    });
    const done = await Promise.all(tasks.map((t) => ended(client, t.tenant, t.requestId)));
    expect(done.map((t) => t.status)).toEqual(tasks.map(() => 'success'));
    for (const task of done) expect(Date.parse(task.finishedAt)).toBeGreaterThanOrEqual(outageEnd);
    const chat = (await stats()).routes['chat.completions'];
    // Refused while the breaker was open, not hammered: a few probes beside the five successful calls.
    expect(chat?.responses['2xx']).toBe(5);
    expect(chat?.responses['5xx'] ?? 0).toBeGreaterThan(0);
    expect(chat?.requests).toBeLessThan(30);
    expect(await readMetric(metricsUrl, 'concurrency_breaker_state', { name: 'chat-upstream' })).toBe(0);
  });
});
