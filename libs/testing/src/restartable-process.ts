import { spawn, type ChildProcess } from 'node:child_process';
import { waitFor } from './wait-for';

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
  /** What the process is, for the timeout message. */
  what: string;
  readyTimeoutMs?: number;
}

/**
 * An infrastructure server (NATS, MariaDB) a test runs on its own loopback port, so it can crash
 * and restart it without touching the shared one. The process's output is kept and shown when it
 * does not become ready.
 */
export async function startRestartableProcess(options: RestartableProcessOptions): Promise<RestartableProcess> {
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = '';

  const start = async () => {
    const started = spawn(options.command, options.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    started.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    started.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    exited = new Promise((resolveExit) => started.once('exit', () => resolveExit()));
    child = started;
    try {
      await waitFor(async () => ((await options.ready()) ? true : undefined), {
        timeoutMs: options.readyTimeoutMs ?? 30_000,
        intervalMs: 50,
        what: options.what,
      });
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${output.slice(-2_000)}`);
    }
  };
  const signal = async (name: NodeJS.Signals) => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill(name);
    await exited;
  };

  await start();
  return { kill: () => signal('SIGKILL'), restart: start, stop: () => signal('SIGTERM') };
}
