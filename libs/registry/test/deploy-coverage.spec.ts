import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  addressEnv,
  deployFiles,
  portOf,
  PROCESSES,
  processNamed,
  type DeployableProcess,
  type PortRole,
} from '../src';
import { everyProcess, kustomize, KUSTOMIZATIONS, read, repository, ROOT, type K8sObject } from './rendered';

interface Container {
  name: string;
  image: string;
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
  ports?: Array<{ name: string; containerPort: number }>;
  readinessProbe?: { httpGet?: { path: string; port: string } };
  livenessProbe?: { httpGet?: { path: string; port: string } };
}

const portNumber = (process: DeployableProcess, role: PortRole) => portOf(process, role).port;

describe('the service registry', () => {
  it('lists each process once, each after the processes it calls, each endpoint on a port it has', () => {
    expect(PROCESSES.length).toBeGreaterThanOrEqual(4);
    const seen = new Set<string>();
    const problems: string[] = [];
    for (const process of PROCESSES) {
      if (seen.has(process.name)) problems.push(`${process.name}: listed twice`);
      for (const call of process.downstream) {
        if (!seen.has(call.process))
          problems.push(`${process.name}: calls ${call.process}, which is not listed before it`);
        else if (!processNamed(call.process).ports[call.via])
          problems.push(`${process.name}: ${call.process} has no ${call.via} port`);
      }
      for (const endpoint of [process.readiness, process.liveness, process.metrics]) {
        if (!process.ports[endpoint.port])
          problems.push(`${process.name}: ${endpoint.path} on a missing ${endpoint.port} port`);
      }
      if (!existsSync(join(ROOT, process.entry)))
        problems.push(`${process.name}: no ${process.entry}`);
      seen.add(process.name);
    }
    expect(problems).toEqual([]);
  });

  it('gives a caller the address of what it calls', () => {
    expect(addressEnv(processNamed('kline-sync'), (name) => `${name}.svc`)).toEqual({
      GRPC_PORT: '50055',
      OPS_PORT: '9105',
      TOKEN_MANAGER_URL: 'token-manager.svc:50051',
      ITICK_BASE_URL: 'http://upstream-sim.svc:4100',
      DB_NAME: 'batchgate_kline_sync',
    });
    const freePorts = (name: string, role: PortRole) =>
      (name === 'gateway' ? 18000 : 19000) + (role === 'grpc' ? 1 : 2);
    // At least these: every service added behind the gateway adds its own address.
    expect(addressEnv(processNamed('gateway'), () => '127.0.0.1', freePorts)).toMatchObject({
      HTTP_PORT: '18002',
      TOKEN_MANAGER_URL: '127.0.0.1:19001',
      KLINE_SYNC_URL: '127.0.0.1:19001',
      ROLE_URL: '127.0.0.1:19001',
      OFFLINE_URL: '127.0.0.1:19001',
      PUBLISH_URL: '127.0.0.1:19001',
    });
  });

  it('committed deployment files equal a fresh `npm run gen:deploy`', () => {
    const stale = deployFiles()
      .filter((file) => {
        const current = existsSync(join(ROOT, file.path)) ? read(file.path) : '';
        return file.render(current, repository) !== current;
      })
      .map((file) => file.path);
    expect(stale).toEqual([]);
  });

  it('the Prometheus scrape config scrapes every process', () => {
    const config = parse(read('deploy/prometheus/prometheus.yml')) as {
      scrape_configs: Array<{
        job_name: string;
        metrics_path?: string;
        dns_sd_configs?: Array<{ names: string[]; port: number }>;
      }>;
    };
    const problems = everyProcess((process) => {
      const job = config.scrape_configs.find((j) => j.job_name === process.name);
      if (!job) return ['no scrape job in deploy/prometheus/prometheus.yml'];
      const target = job.dns_sd_configs?.[0];
      return [
        (job.metrics_path ?? '/metrics') !== process.metrics.path && `scrapes ${job.metrics_path}`,
        (target?.names[0] !== process.name ||
          target.port !== portNumber(process, process.metrics.port)) &&
          `scrapes ${JSON.stringify(target)}`,
      ];
    });
    expect(problems).toEqual([]);
  });

  describe.each(KUSTOMIZATIONS)('Kubernetes (kubectl kustomize %s)', (dir) => {
    let objects: K8sObject[];
    beforeAll(() => {
      objects = kustomize(dir);
    });
    const find = (kind: string, name: string) =>
      objects.find((o) => o.kind === kind && o.metadata.name === name);

    it('deploys every process: Deployment with its image, ports, probes and scrape annotations; its ConfigMap, Service, PodDisruptionBudget, ServiceAccount, NetworkPolicy and ServiceMonitor', () => {
      const problems = everyProcess((process) => {
        const deployment = find('Deployment', process.name);
        if (!deployment) return ['no Deployment'];
        const template = deployment.spec?.['template'] as {
          metadata: { annotations?: Record<string, string> };
          spec: { containers: Container[] };
        };
        const container = template.spec.containers.find((c) => c.name === process.name);
        if (!container) return ['no container named after it'];
        const ports = Object.entries(process.ports).map(([role, port]) => `${role}:${port.port}`);
        const containerPorts = container.ports?.map((p) => `${p.name}:${p.containerPort}`);
        const config = find('ConfigMap', `${process.name}-config`);
        const wrongEnv = Object.entries(addressEnv(process, (name) => name)).filter(
          ([key, value]) => config?.data?.[key] !== value,
        );
        const service = find('Service', process.name);
        const servicePorts = (
          service?.spec?.['ports'] as Array<{ name: string; port: number }> | undefined
        )?.map((p) => `${p.name}:${p.port}`);
        const pdb = find('PodDisruptionBudget', process.name);
        return [
          !container.image.startsWith(`batchgate/${process.app}:`) && `runs ${container.image}`,
          JSON.stringify(containerPorts) !== JSON.stringify(ports) &&
            `container ports ${containerPorts}`,
          (container.readinessProbe?.httpGet?.path !== process.readiness.path ||
            container.readinessProbe.httpGet.port !== process.readiness.port) &&
            'readiness probe differs',
          container.livenessProbe?.httpGet?.path !== process.liveness.path &&
            'liveness probe differs',
          template.metadata.annotations?.['prometheus.io/port'] !==
            String(portNumber(process, process.metrics.port)) && 'scrape port annotation differs',
          template.metadata.annotations?.['prometheus.io/path'] !== process.metrics.path &&
            'scrape path annotation differs',
          !container.envFrom?.some((source) => source.configMapRef?.name === `${process.name}-config`) &&
            `does not read ${process.name}-config`,
          !config && `no ${process.name}-config`,
          wrongEnv.length > 0 &&
            `${process.name}-config differs at ${wrongEnv.map(([key]) => key).join(', ')}`,
          !service && 'no Service',
          service &&
            JSON.stringify(servicePorts) !== JSON.stringify(ports) &&
            `Service ports ${servicePorts}`,
          !pdb && 'no PodDisruptionBudget',
          pdb && pdb.spec?.['maxUnavailable'] !== 1 && 'PodDisruptionBudget does not allow one pod down',
          !find('ServiceAccount', process.name) && 'no ServiceAccount',
          !find('NetworkPolicy', process.name) && 'no NetworkPolicy',
          !find('ServiceMonitor', process.name) && 'no ServiceMonitor',
        ];
      });
      expect(problems).toEqual([]);
    });

    it('scales every horizontal process with a HorizontalPodAutoscaler, and no single-replica one', () => {
      const horizontal = PROCESSES.filter((p) => p.scaling.kind === 'horizontal');
      expect(horizontal.map((p) => p.name)).toEqual(
        expect.arrayContaining(['kline-sync', 'token-manager']),
      );
      const problems = everyProcess((process) => {
        const hpa = find('HorizontalPodAutoscaler', process.name);
        if (process.scaling.kind !== 'horizontal')
          return [hpa !== undefined && 'autoscaled but single-replica'];
        return [
          !hpa && 'no HorizontalPodAutoscaler',
          hpa?.spec?.['maxReplicas'] !== process.scaling.maxReplicas &&
            `maxReplicas ${hpa?.spec?.['maxReplicas']}`,
        ];
      });
      expect(problems).toEqual([]);
    });
  });
});
