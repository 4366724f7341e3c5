import { execFileSync } from 'node:child_process';
import { startTestStack } from './test-stack';

const isRunning = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The one test stack, on real processes of the registry. */
describe('test stack', () => {
  it('starts a process with what it calls, each on its own ports and database, and stops them all', async () => {
    const stack = await startTestStack({ processes: ['kline-sync'], env: { 'kline-sync': { LOG_LEVEL: 'warn' } } });
    const pids = ['upstream-sim', 'token-manager', 'kline-sync'].map((name) => stack.process(name).pid);
    expect(stack.has('gateway')).toBe(false);
    expect((await fetch(`${stack.url('upstream-sim', 'http')}/readyz`)).status).toBe(200);
    expect((await fetch(`${stack.url('kline-sync', 'ops')}/readyz`)).status).toBe(200);
    const [tables] = await stack.database('kline-sync').query<{ n: number }>(
      "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'kline_bar'",
    );
    expect(Number(tables?.n)).toBe(1); // its migrations ran on its own database
    expect(stack.database('kline-sync').name).not.toBe(stack.database('token-manager').name);

    await stack.stop();
    expect(pids.filter(isRunning)).toEqual([]);
  }, 90_000);

  it('fails stop() when a process exited uncleanly, not when the test killed it', async () => {
    const stack = await startTestStack({ processes: ['upstream-sim'], replicas: { 'upstream-sim': 2 } });
    await stack.process('upstream-sim', 0).kill(); // on purpose
    process.kill(stack.process('upstream-sim', 1).pid, 'SIGKILL'); // a crash nobody asked for
    await stack.process('upstream-sim', 1).exited;
    await expect(stack.stop()).rejects.toThrow(/upstream-sim#1 exited with SIGKILL/);
  });

  it('stops what it started when a later process cannot start', async () => {
    let failure: unknown;
    const before = new Set(childServices());
    try {
      // kline-sync refuses a bad configuration value and exits: upstream-sim and token-manager were up.
      await startTestStack({ processes: ['kline-sync'], env: { 'kline-sync': { SYNC_WORK_QUEUE: 'not a queue name' } } });
    } catch (error) {
      failure = error;
    }
    expect(String(failure)).toMatch(/kline-sync\/src\/main\.ts exited/);
    expect(childServices().filter((pid) => !before.has(pid))).toEqual([]);
  }, 90_000);
});

/** Pids of the upstream-sim and token-manager processes running as children of this jest worker. */
function childServices(): number[] {
  const out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line.includes('apps/upstream-sim/src/main.ts') || line.includes('apps/token-manager/src/main.ts'))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}
