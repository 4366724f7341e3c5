import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { waitFor } from './wait-for';

export const REPO_ROOT = resolve(__dirname, '../../..');

export interface ServiceProcess {
  pid: number;
  /** Everything the process wrote so far (stdout and stderr). */
  output: () => string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** Sends SIGTERM and waits for the exit. */
  stop: () => Promise<number | string>;
  /** SIGKILL: a crash, nothing runs after it. */
  kill: () => Promise<number | string>;
}

export interface SpawnServiceOptions {
  /** Path of the app's main.ts relative to the repository root. */
  entry: string;
  env: Record<string, string>;
  /** URL that answers 200 once the process is ready; omit to not wait. */
  readyUrl?: string;
  readyTimeoutMs?: number;
}

/**
 * Starts an app as its own process, exactly as `npm start` does (TypeScript through
 * @swc-node/register), so tests can kill it and start it again. `SPAWN_NODE_ARGS` adds node
 * options to every spawned service (e.g. `--cpu-prof --cpu-prof-dir=tmp/prof` to profile a
 * benchmark; NODE_OPTIONS does not allow them).
 */
export async function spawnService(options: SpawnServiceOptions): Promise<ServiceProcess> {
  const nodeArgs = (process.env['SPAWN_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, '-r', '@swc-node/register', join(REPO_ROOT, options.entry)], {
    cwd: REPO_ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | string>((resolveExit) =>
    child.once('exit', (code, signal) => resolveExit(code ?? signal ?? 'unknown')),
  );
  const service: ServiceProcess = {
    pid: child.pid ?? -1,
    output: () => output,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return exited;
    },
  };
  if (options.readyUrl) {
    const failedEarly = exited.then((code) => {
      throw new Error(`${options.entry} exited (${code}) before it was ready:\n${output}`);
    });
    try {
      await Promise.race([waitForOwnReadiness(options.readyUrl, child.pid ?? -1, options.readyTimeoutMs), failedEarly]);
    } catch (error) {
      await service.kill();
      throw error;
    }
    failedEarly.catch(() => undefined);
  }
  return service;
}

/**
 * Resolves when `url` answers 200 from the process `pid`: a port handed out as free can be taken
 * by a process another test started meanwhile, whose /readyz would otherwise pass for ours.
 */
async function waitForOwnReadiness(url: string, pid: number, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    async () => {
      const response = await fetch(url);
      if (response.status !== 200) return undefined;
      const answering = ((await response.json()) as { pid?: number }).pid;
      if (answering !== undefined && answering !== pid) throw new Error(`${url} is served by process ${answering}, not by ${pid}`);
      return true;
    },
    { timeoutMs, what: url },
  );
}
