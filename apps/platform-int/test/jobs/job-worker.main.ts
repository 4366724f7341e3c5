/**
 * A worker replica as its own process, for the tests that kill one: runs the test kind's items
 * with the settings in its environment and writes each run to stdout (see testHandler).
 */
import { writeSync } from 'node:fs';
import { openKit, type KitEnvironment } from './job-kit.harness';

async function main(): Promise<void> {
  const env = process.env as Record<string, string>;
  const environment: KitEnvironment = {
    DB_HOST: env['DB_HOST'] ?? '127.0.0.1',
    DB_PORT: Number(env['DB_PORT'] ?? 3306),
    DB_USER: env['DB_USER'] ?? 'root',
    DB_PASSWORD: env['DB_PASSWORD'] ?? '',
    DB_NAME: env['DB_NAME'] ?? '',
    NATS_URL: env['NATS_URL'] ?? 'nats://127.0.0.1:4222',
    JOBS_SERVICE: env['JOBS_SERVICE'] ?? '',
    JOBS_QUEUE: env['JOBS_QUEUE'] ?? '',
  };
  const kit = await openKit(environment);
  // Written synchronously: a SIGKILL must not lose the line that says the run had started.
  const log = (line: string) => writeSync(1, `${line}\n`);
  const worker = await kit.worker(
    {
      concurrency: Number(env['JOBS_CONCURRENCY'] ?? 4),
      maxDeliveries: Number(env['JOBS_MAX_DELIVERIES'] ?? 5),
      ackWaitMs: Number(env['JOBS_ACK_WAIT_MS'] ?? 2_000),
      retryDelayMs: 100,
    },
    log,
  );
  log('worker ready');
  process.once('SIGTERM', () => {
    void worker
      .stop()
      .then(() => kit.close())
      .then(() => process.exit(0));
  });
}

main().catch((error: unknown) => {
  writeSync(2, `worker failed: ${String(error)}\n`);
  process.exit(1);
});
