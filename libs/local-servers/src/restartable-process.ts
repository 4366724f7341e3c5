import { spawn, type ChildProcess } from 'node:child_process';

export interface RestartableProcess {
  /** SIGKILL, as a crash: nothing runs after it. */
  kill: () => Promise<void>;
  /** Starts the process again with the same command (same port, same data). */
  restart: () => Promise<void>;
  /** SIGTERM, then waits for the exit. */
  stop: () => Promise<void>;
}

export interface RestartableProcessOptions {
  command: string;
  args: string[];
  /** True once the process serves; polled after every start. */
  ready: () => Promise<boolean>;
  /** What the process is, for the error messages. */
  what: string;
  readyTimeoutMs?: number;
  /**
   * In a process group of its own, so a Ctrl-C in the terminal does not reach it: `npm start`
   * stops it after the services that use it have drained.
   */
  ownProcessGroup?: boolean;
}

/** The tail of a process's output kept for error messages (a dev server runs for hours). */
const OUTPUT_KEPT = 4_000;

/**
 * An infrastructure server (NATS, MariaDB) on its own loopback port: a test crashes and restarts
 * it without touching the shared one, `npm start` runs one when none is reachable. The output's
 * tail is shown when the process exits or does not become ready.
 */
export async function startRestartableProcess(
  options: RestartableProcessOptions,
): Promise<RestartableProcess> {
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = '';

  const start = async () => {
    const started = spawn(options.command, options.args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: options.ownProcessGroup ?? false,
    });
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-OUTPUT_KEPT));
    started.stdout?.on('data', keep);
    started.stderr?.on('data', keep);
    let hasExited = false;
    exited = new Promise((resolveExit) => {
      const onExit = () => {
        hasExited = true;
        resolveExit();
      };
      started.once('exit', onExit);
      // Not started at all (no such binary): no 'exit' follows.
      started.once('error', (error) => {
        keep(Buffer.from(`\n${error.message}`));
        onExit();
      });
    });
    child = started;
    // Polled here rather than with libs/testing's waitFor (which this lib sits under): a process
    // that exits (bad flag, port taken) fails at once instead of at the timeout.
    const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
    for (;;) {
      if (hasExited) throw new Error(`${options.what} exited before it was ready:\n${output}`);
      if (await options.ready().catch(() => false)) return;
      if (Date.now() > deadline) {
        await signal('SIGKILL');
        throw new Error(`Timed out waiting for ${options.what}\n${output}`);
      }
      await new Promise((resolveWait) => setTimeout(resolveWait, 50));
    }
  };
  const signal = async (name: NodeJS.Signals) => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill(name);
    await exited;
  };

  await start();
  return { kill: () => signal('SIGKILL'), restart: start, stop: () => signal('SIGTERM') };
}
