import { waitFor } from '@batchgate/testing';
import { startStack, type Stack } from './stack';

interface TaskView {
  request_id: string;
  status: string;
  role_id: string;
}

/** The role routes (seed 001) through the gateway, against role's MySQL, NATS and upstream-sim over HTTP. */
describe('role through the gateway', () => {
  let stack: Stack;
  let bearer: Record<string, string>;

  beforeAll(async () => {
    stack = await startStack({ services: ['role'] });
    const token = await stack.mintToken({ perms: ['role:create', 'role:list'], sub: 'alice', tenant: 'acme' });
    bearer = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    await stack.services.database('role').query('INSERT INTO base_info (tenant, task_id, name, description) VALUES (?, ?, ?, ?)', ['acme', 'e2e-task', 'Ann', 'analyst']);
  }, 90_000);
  afterAll(() => stack.stop());

  const post = (path: string, body: unknown, headers = bearer) => stack.fetch(path, { method: 'POST', headers, body: JSON.stringify(body) });
  const get = (path: string, headers = bearer) => stack.fetch(path, { headers });

  it('accepts a task at once, runs it in the background and serves the persona it stored', async () => {
    const accepted = await post('/api/roles', { tenant_id: 'acme', task_id: 'e2e-task', strategy_id: 'growth' });
    expect(accepted.status).toBe(202);
    const answer = (await accepted.json()) as { success: boolean; request_id: string; status: string };
    expect(answer).toEqual({ success: true, request_id: expect.stringMatching(/^[0-9a-f-]{36}$/), status: 'accepted' });

    const done = await waitFor(
      async () => {
        const task = (await (await get(`/api/roles/tasks/${answer.request_id}`)).json()) as TaskView;
        return task.status === 'success' ? task : undefined;
      },
      { timeoutMs: 20_000, what: 'the persona task to succeed' },
    );
    const persona = await get(`/api/roles/${done.role_id}`);
    expect(persona.status).toBe(200);
    expect(await persona.json()).toMatchObject({ id: done.role_id, request_id: answer.request_id, tenant_id: 'acme', task_id: 'e2e-task', name: 'Ann' });

    const listed = (await (await get('/api/roles/tasks?status=success')).json()) as { items: TaskView[]; total: number };
    expect(listed.items.map((t) => t.request_id)).toContain(answer.request_id);
  });

  it('streams the task as server-sent events until it ends; another tenant gets 404', async () => {
    const accepted = (await (await post('/api/roles', { tenant_id: 'acme', task_id: 'e2e-task', strategy_id: 'events' })).json()) as { request_id: string };
    const stream = await get(`/api/roles/tasks/${accepted.request_id}/events`);
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const events = (await stream.text())
      .split('\n\n')
      .filter((frame) => frame.startsWith('event: task'))
      .map((frame) => JSON.parse(frame.split('\ndata: ')[1] ?? '{}') as TaskView);
    expect(events.map((e) => e.request_id)).toEqual(events.map(() => accepted.request_id));
    expect(events.at(-1)).toMatchObject({ status: 'success', role_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });

    const stranger = await stack.mintToken({ perms: ['role:list'], sub: 'alice', tenant: 'globex' });
    const refused = await get(`/api/roles/tasks/${accepted.request_id}/events`, { authorization: `Bearer ${stranger}` });
    expect(refused.status).toBe(404);
  });

  it("refuses a tenant_id that is not the caller's with 403, and stores nothing", async () => {
    const refused = await post('/api/roles', { tenant_id: 'globex', task_id: 'e2e-task', strategy_id: 'other' });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: { code: 'ROLE.TENANT_MISMATCH' } });
    const rows = await stack.services.database('role').query<{ n: number }>("SELECT COUNT(*) AS n FROM job WHERE JSON_EXTRACT(params, '$.strategyId') = 'other'");
    expect(Number(rows[0]?.n)).toBe(0);
  });
});
