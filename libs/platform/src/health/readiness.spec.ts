import { Readiness } from './readiness';

describe('Readiness', () => {
  it('is not ready before start, ready when every check passes, not ready while shutting down', async () => {
    const readiness = new Readiness(50).add({ name: 'db', check: async () => undefined });
    expect((await readiness.report()).ready).toBe(false);
    readiness.markStarted();
    expect(await readiness.report()).toEqual({ ready: true, checks: { db: 'up' }, started: true, shuttingDown: false, pid: process.pid });
    readiness.markShuttingDown();
    expect((await readiness.report()).ready).toBe(false);
  });

  it('reports a failing, false or hanging dependency as down', async () => {
    const readiness = new Readiness(50)
      .add({ name: 'throws', check: async () => Promise.reject(new Error('refused')) })
      .add({ name: 'false', check: async () => false })
      .add({ name: 'hangs', check: () => new Promise(() => undefined) })
      .add({ name: 'fine', check: async () => true });
    readiness.markStarted();
    expect(await readiness.report()).toMatchObject({
      ready: false,
      checks: { throws: 'down', false: 'down', hangs: 'down', fine: 'up' },
    });
  });
});
