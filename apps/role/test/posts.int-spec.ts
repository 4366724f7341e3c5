import { lastValueFrom, toArray } from 'rxjs';
import type { BatchGeneratePostsEvent } from '@batchgate/contracts/role/v1/role';
import { waitFor } from '@batchgate/testing';
import { seedProfile, startRoleStack, type RoleStack, type SimStats } from './role-stack.harness';

const USER = 'alice';

/** Seed 002's post generation at the gRPC level: a post over its time limit is a failed line, the stream goes on. */
describe('role: batch post generation', () => {
  let stack: RoleStack;
  let tenant: string;
  let roleId: string;

  beforeAll(async () => {
    stack = await startRoleStack({ env: { POST_TIMEOUT_MS: '1000' } });
    const profile = await seedProfile(stack.database);
    tenant = profile.tenant;
    const answer = await lastValueFrom(stack.role.createRole({ tenantId: tenant, taskId: profile.taskId, strategyId: 's', userId: USER }));
    roleId = await waitFor(async () => {
      const task = await lastValueFrom(stack.role.getRoleTask({ requestId: answer.requestId, tenant, userId: USER }));
      return task.status === 'success' ? task.roleId : undefined;
    });
  }, 90_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('ends a post that runs past POST_TIMEOUT_MS as a failed line (its AI call aborted), and the others still arrive', async () => {
    await stack.sim('/__sim/reset', {});
    // Half the AI calls answer in 50 ms, the others hang until the client gives up: no call ends
    // near the 1 s limit, where the simulator could answer just as role's timer fires (a timed-out
    // post whose call was never aborted, seen on a loaded machine with latencies drawn up to 2 s).
    await stack.sim('/__sim/config', {
      routes: { 'chat.completions': { latency: { kind: 'fixed', ms: 50 }, errorRate: 0.5, errorKind: 'hang', seed: 3 } },
    });
    const posts = Array.from({ length: 10 }, (_, i) => ({ roleId, topic: `t${i}`, stock: '600000' }));
    const events: BatchGeneratePostsEvent[] = await lastValueFrom(stack.role.batchGeneratePosts({ posts, tenant, userId: USER }).pipe(toArray()));
    const lines = events.flatMap((e) => (e.post ? [e.post] : []));
    expect(lines.map((l) => l.index).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const timedOut = lines.filter((l) => !l.success);
    expect(timedOut.length).toBeGreaterThan(0);
    expect(timedOut.length).toBeLessThan(10);
    expect(timedOut.every((l) => l.errorCode === 'POST.TIMEOUT')).toBe(true);
    expect(events.at(-1)?.summary).toMatchObject({ total: 10, succeeded: 10 - timedOut.length, failed: timedOut.length });
    const chat = await waitFor(async () => {
      const route = (await stack.sim<SimStats>('/__sim/stats')).routes['chat.completions'];
      return route && route.aborted >= timedOut.length ? route : undefined;
    }, { what: 'the timed-out calls to be aborted' });
    expect(chat.aborted).toBe(timedOut.length);
  });

  it('refuses an empty or oversized batch before generating anything', async () => {
    await expect(lastValueFrom(stack.role.batchGeneratePosts({ posts: [], tenant, userId: USER }).pipe(toArray()))).rejects.toMatchObject({
      code: 3,
      details: expect.stringContaining('1-50'),
    });
    const tooMany = Array.from({ length: 51 }, () => ({ roleId, topic: 't', stock: 's' }));
    await expect(lastValueFrom(stack.role.batchGeneratePosts({ posts: tooMany, tenant, userId: USER }).pipe(toArray()))).rejects.toMatchObject({ code: 3 });
  });
});
