import { randomUUID } from 'node:crypto';
import { createConnection, type Connection } from 'mysql2/promise';
import { lastValueFrom, toArray } from 'rxjs';
import type { RoleTask } from '@batchgate/contracts/role/v1/role';
import { readMetric, waitFor } from '@batchgate/testing';
import { seedProfile, startRoleStack, type RoleStack, type SimStats } from './role-stack.harness';

const USER = 'alice';
const SOURCE_TABLES = ['base_info', 'talk_style', 'knowledge', 'product'];

describe('role: persona tasks (seed 001) over real MySQL, NATS and the simulator', () => {
  let stack: RoleStack;

  beforeAll(async () => {
    stack = await startRoleStack();
  }, 90_000);

  afterAll(async () => {
    await stack?.stop();
  });

  beforeEach(async () => {
    await stack.sim('/__sim/reset', {});
  });

  const task = (tenant: string, requestId: string) => lastValueFrom(stack.role.getRoleTask({ requestId, tenant, userId: USER }));
  const ended = (tenant: string, requestId: string) =>
    waitFor(
      async () => {
        const current = await task(tenant, requestId);
        return ['success', 'failed', 'cancelled'].includes(current.status) ? current : undefined;
      },
      { timeoutMs: 20_000, what: `task ${requestId} to end` },
    );
  const stats = () => stack.sim<SimStats>('/__sim/stats');

  it('answers at once, creates the persona in the background, and notifies once with the request id as the key', async () => {
    const { tenant, taskId } = await seedProfile(stack.database);
    await stack.sim('/__sim/config', { routes: { 'chat.completions': { latency: { kind: 'fixed', ms: 1_500 } } } });

    const answer = await lastValueFrom(stack.role.createRole({ tenantId: tenant, taskId, strategyId: 'growth', userId: USER }));
    expect(answer).toEqual({ success: true, requestId: expect.stringMatching(/^[0-9a-f-]{36}$/), status: 'accepted' });
    // Answered before the AI had answered: the work is in the background.
    expect((await stats()).routes['chat.completions']?.responses['2xx'] ?? 0).toBe(0);
    expect(['queued', 'running']).toContain((await task(tenant, answer.requestId)).status);

    // The same task and strategy while it is open: the same task, no second one.
    const again = await lastValueFrom(stack.role.createRole({ tenantId: tenant, taskId, strategyId: 'growth', userId: USER }));
    expect(again.requestId).toBe(answer.requestId);

    const done = await ended(tenant, answer.requestId);
    expect(done).toMatchObject({ status: 'success', taskId, strategyId: 'growth', tenantId: tenant, attempts: 1, errorMessage: '' });
    expect(done.roleId).toMatch(/^[0-9a-f-]{36}$/);
    const role = await lastValueFrom(stack.role.getRole({ id: done.roleId, tenant }));
    expect(role).toMatchObject({ requestId: answer.requestId, taskId, name: 'Ann', model: 'gpt-4o-mini' });
    expect(role.persona.length).toBeGreaterThan(0);
    expect(role.completionTokens).toBeGreaterThan(0);

    const seen = await stats();
    expect(seen.routes['chat.completions']?.requests).toBe(1);
    expect(seen.effects['webhook.delivery']?.[answer.requestId]).toEqual({ effects: 1, repeats: 0 });
    const { deliveries } = await stack.sim<{ deliveries: Array<{ body: Record<string, unknown> }> }>(
      `/__sim/webhook/deliveries?key=${answer.requestId}`,
    );
    expect(deliveries.map((d) => d.body)).toEqual([
      { event: 'role.persona.created', requestId: answer.requestId, tenantId: tenant, taskId, strategyId: 'growth', roleId: done.roleId },
    ]);

    // Ended: the same task and strategy again is a new task.
    const next = await lastValueFrom(stack.role.createRole({ tenantId: tenant, taskId, strategyId: 'growth', userId: USER }));
    expect(next.requestId).not.toBe(answer.requestId);
    await ended(tenant, next.requestId);
    expect(await readMetric(stack.metricsUrl(), 'role_webhook_deliveries_total', { outcome: 'delivered' })).toBe(2);
  });

  it('reads the four sources at once: all four queries wait on the locked tables together', async () => {
    const { tenant, taskId } = await seedProfile(stack.database);
    const locker: Connection = await createConnection({ ...connectionOf(stack), multipleStatements: false });
    try {
      await locker.query(`LOCK TABLES ${SOURCE_TABLES.map((t) => `${t} WRITE`).join(', ')}`);
      const answer = await lastValueFrom(stack.role.createRole({ tenantId: tenant, taskId, strategyId: 's', userId: USER }));
      // Serial reads would show one waiting query at a time; concurrent ones show all four.
      const waiting = await waitFor(
        async () => {
          const [rows] = await locker.query(
            "SELECT info FROM information_schema.PROCESSLIST WHERE db = ? AND state LIKE 'Waiting for table%' AND info LIKE 'SELECT%'",
            [stack.database.name],
          );
          const queries = (rows as Array<{ info: string }>).map((row) => row.info);
          return SOURCE_TABLES.every((table) => queries.some((q) => q.includes(`FROM ${table} `))) ? queries : undefined;
        },
        { timeoutMs: 15_000, what: 'the four source reads to wait on their locks at once' },
      );
      expect(waiting).toHaveLength(4);
      await locker.query('UNLOCK TABLES');
      expect((await ended(tenant, answer.requestId)).status).toBe('success');
    } finally {
      await locker.end();
    }
  });

  it('fails a task whose profile does not exist, with the reason, and notifies nobody', async () => {
    const tenant = `t-${randomUUID().slice(0, 8)}`;
    const answer = await lastValueFrom(stack.role.createRole({ tenantId: tenant, taskId: 'no-such-task', strategyId: 's', userId: USER }));
    const done = await ended(tenant, answer.requestId);
    expect(done.status).toBe('failed');
    expect(done.errorMessage).toContain('ROLE.PROFILE_NOT_FOUND');
    expect((await stats()).routes['chat.completions']).toBeUndefined();
    expect((await stats()).effects['webhook.delivery']?.[answer.requestId]).toBeUndefined();
  });

  it('fails a task at once when the chat API refuses it (401): not retried, not run again', async () => {
    const { tenant, taskId } = await seedProfile(stack.database);
    // The simulator now wants a key role does not send.
    await stack.sim('/__sim/config', { chat: { apiKeys: ['sk-someone-else'] } });
    const answer = await lastValueFrom(stack.role.createRole({ tenantId: tenant, taskId, strategyId: 's', userId: USER }));
    const done = await ended(tenant, answer.requestId);
    expect(done).toMatchObject({ status: 'failed', attempts: 1 });
    expect(done.errorMessage).toContain('refused the persona');
    expect((await stats()).routes['chat.completions']?.requests).toBe(1);
  });

  it('cancels a running task by aborting its AI call; the task never notifies', async () => {
    const { tenant, taskId } = await seedProfile(stack.database);
    await stack.sim('/__sim/config', { routes: { 'chat.completions': { latency: { kind: 'fixed', ms: 20_000 } } } });
    const answer = await lastValueFrom(stack.role.createRole({ tenantId: tenant, taskId, strategyId: 's', userId: USER }));
    await waitFor(async () => ((await stats()).routes['chat.completions']?.inFlight === 1 ? true : undefined), { what: 'the AI call' });

    const cancelled = await lastValueFrom(stack.role.cancelRoleTask({ requestId: answer.requestId, tenant, userId: USER }));
    expect(cancelled.status).toBe('cancelled');
    const aborted = await waitFor(async () => {
      const chat = (await stats()).routes['chat.completions'];
      // The simulator finishes the request's latency after the client left; `aborted` counts the leaving.
      return chat && chat.aborted === 1 ? chat : undefined;
    }, { what: 'the AI call to be aborted' });
    expect(aborted.requests).toBe(1);
    expect((await task(tenant, answer.requestId)).status).toBe('cancelled');
    expect((await stats()).effects['webhook.delivery']?.[answer.requestId]).toBeUndefined();
    await expect(lastValueFrom(stack.role.cancelRoleTask({ requestId: answer.requestId, tenant, userId: USER }))).rejects.toMatchObject({
      code: 9,
      details: expect.stringContaining('has already finished (cancelled)'),
    });
  });

  it("shares a tenant's tasks among its users (a colleague's repeat finds the open task); another tenant gets NOT_FOUND and changes nothing", async () => {
    const { tenant, taskId } = await seedProfile(stack.database);
    await stack.sim('/__sim/config', { routes: { 'chat.completions': { latency: { kind: 'fixed', ms: 500 } } } });
    const answer = await lastValueFrom(stack.role.createRole({ tenantId: tenant, taskId, strategyId: 's', userId: USER }));
    const colleague = { tenant, userId: 'bob' };
    const repeat = await lastValueFrom(stack.role.createRole({ tenantId: tenant, taskId, strategyId: 's', userId: colleague.userId }));
    expect(repeat.requestId).toBe(answer.requestId);
    const done = await ended(tenant, answer.requestId);
    expect(done.submittedBy).toBe(USER);
    expect(await lastValueFrom(stack.role.getRoleTask({ requestId: answer.requestId, ...colleague }))).toMatchObject({ status: 'success', roleId: done.roleId });
    const stranger = { tenant: 'other-tenant', userId: USER };
    await expect(lastValueFrom(stack.role.getRoleTask({ requestId: answer.requestId, ...stranger }))).rejects.toMatchObject({ code: 5 });
    await expect(lastValueFrom(stack.role.cancelRoleTask({ requestId: answer.requestId, ...stranger }))).rejects.toMatchObject({ code: 5 });
    await expect(lastValueFrom(stack.role.getRole({ id: done.roleId, tenant: stranger.tenant }))).rejects.toMatchObject({ code: 5 });
    const listed = await lastValueFrom(stack.role.listRoleTasks({ ...stranger, status: '', page: { page: 1, pageSize: 10 } }));
    expect(listed.tasks).toEqual([]);
    const own = await lastValueFrom(stack.role.listRoleTasks({ ...colleague, status: 'success', page: { page: 1, pageSize: 10 } }));
    expect(own.tasks.map((t: RoleTask) => [t.requestId, t.roleId])).toEqual([[answer.requestId, done.roleId]]);
    expect((await ended(tenant, answer.requestId)).status).toBe('success');
  });

  it('streams every state change of a task until it ends', async () => {
    const { tenant, taskId } = await seedProfile(stack.database);
    await stack.sim('/__sim/config', { routes: { 'chat.completions': { latency: { kind: 'fixed', ms: 300 } } } });
    const answer = await lastValueFrom(stack.role.createRole({ tenantId: tenant, taskId, strategyId: 's', userId: USER }));
    const changes = await lastValueFrom(stack.role.watchRoleTask({ requestId: answer.requestId, tenant, userId: USER }).pipe(toArray()));
    const statuses = changes.map((c) => c.status);
    expect(statuses.at(-1)).toBe('success');
    expect(statuses).toContain('running');
    expect(changes.at(-1)?.roleId).toMatch(/^[0-9a-f-]{36}$/);
  });
});

function connectionOf(stack: RoleStack) {
  const env = stack.database.env;
  return { host: env['DB_HOST'], port: Number(env['DB_PORT']), user: env['DB_USER'], password: env['DB_PASSWORD'], database: stack.database.name };
}
