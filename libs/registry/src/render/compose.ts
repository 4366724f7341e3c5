import { addressEnv, portOf, PROCESSES, type DeployableProcess } from '../processes';
import { quoted, replaceRegion } from './generated-region';

export const COMPOSE_FILE = 'docker-compose.yml';

/** No load balancer to wait for: a short delay, then the drain; compose waits longer before SIGKILL. */
export const COMPOSE_DRAIN = { delayMs: 2_000, timeoutMs: 20_000 };
export const COMPOSE_STOP_GRACE_SECONDS = Math.ceil((COMPOSE_DRAIN.delayMs + COMPOSE_DRAIN.timeoutMs) / 1000) + 5;

/** A container's readiness check: the images have node but neither curl nor wget. */
export function readinessCommand(process: DeployableProcess): string[] {
  const url = `http://127.0.0.1:${portOf(process, process.readiness.port).port}${process.readiness.path}`;
  return [
    'CMD',
    'node',
    '-e',
    `fetch('${url}').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`,
  ];
}

/** What a container of `process` gets: addresses of the other containers by service name. */
export function containerEnv(process: DeployableProcess): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of process.hostEnv) env[name] = '0.0.0.0';
  Object.assign(
    env,
    addressEnv(process, (name) => name),
  );
  if (process.database) env['DB_HOST'] = 'mysql';
  if (process.nats) env['NATS_URL'] = 'nats://nats:4222';
  return { ...env, ...process.containerEnv };
}

function composeService(process: DeployableProcess, releaseTag: string): string[] {
  const lines = [
    `${process.name}:`,
    `  image: batchgate/${process.app}:${releaseTag}`,
    `  build: { context: ., args: { APP: ${process.app} } }`,
    '  environment:',
    '    <<: *process-env',
    `    SHUTDOWN_DELAY_MS: ${quoted(COMPOSE_DRAIN.delayMs)}`,
    `    SHUTDOWN_TIMEOUT_MS: ${quoted(COMPOSE_DRAIN.timeoutMs)}`,
  ];
  for (const [name, value] of Object.entries(containerEnv(process)))
    lines.push(`    ${name}: ${quoted(value)}`);
  // No value: taken from the host's environment when set there, else the app's development default.
  for (const name of process.secrets) lines.push(`    ${name}:`);
  if (process.publish) {
    const { port } = portOf(process, process.publish);
    lines.push(`  ports: ["${port}:${port}"]`);
  }
  lines.push(
    '  healthcheck:',
    `    test: [${readinessCommand(process).map(quoted).join(', ')}]`,
    '    interval: 5s',
    '    timeout: 3s',
    '    retries: 30',
  );
  const dependencies = [
    ...(process.database ? ['mysql'] : []),
    ...(process.nats ? ['nats'] : []),
    ...process.downstream.map((d) => d.process),
  ];
  if (dependencies.length > 0) {
    lines.push('  depends_on:');
    for (const name of new Set(dependencies))
      lines.push(`    ${name}: { condition: service_healthy }`);
  }
  lines.push(
    // Longer than the app's drain (SHUTDOWN_DELAY_MS + SHUTDOWN_TIMEOUT_MS).
    `  stop_grace_period: ${COMPOSE_STOP_GRACE_SECONDS}s`,
    // As in Kubernetes: nothing written outside /tmp, no privileges to gain.
    '  read_only: true',
    '  tmpfs: [/tmp]',
    '  cap_drop: [ALL]',
    '  security_opt: [no-new-privileges:true]',
  );
  return lines;
}

/** docker-compose.yml with its services block regenerated, each image tagged `releaseTag`. */
export function renderCompose(current: string, releaseTag: string): string {
  const services = PROCESSES.map((process) => composeService(process, releaseTag));
  return replaceRegion(
    current,
    services.flatMap((lines, i) => (i === 0 ? lines : ['', ...lines])),
    COMPOSE_FILE,
  );
}
