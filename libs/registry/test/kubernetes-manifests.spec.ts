import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { parse } from 'yaml';
import { callersOf, portOf, PROCESSES, type DeployableProcess, type PortRole } from '../src';
import { CONFIG_HASH_ANNOTATION, configDigest } from '../src/render/kubernetes';
import { everyProcess, kustomize, KUSTOMIZATIONS, read, repository, secretValues, type K8sObject } from './rendered';

/**
 * The schema of every kind the overlays render: the Kubernetes OpenAPI schemas (kubernetes-models)
 * and prometheus-operator's CRD schemas (@kubernetes-models/prometheus-operator), offline. They
 * check types, required fields, enums and formats; like the API server's non-strict mode they do
 * not reject unknown fields — the renderer's objects are typed with the same models, so tsc does.
 */
const SCHEMAS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Namespace': Namespace,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
};

/** Why `object` does not match its schema, or undefined when it does. */
function schemaProblem(object: K8sObject): string | undefined {
  const Model = SCHEMAS[`${object.apiVersion}/${object.kind}`];
  if (!Model) return `${object.kind} ${object.metadata.name}: no schema for ${object.apiVersion} ${object.kind}`;
  // kustomize folds long base64 values over lines; the API server's decoder skips the line breaks.
  const data = object.data && Object.fromEntries(Object.entries(object.data).map(([k, v]) => [k, v.replace(/\n/g, '')]));
  try {
    new Model({ ...object, ...(data ? { data } : {}) } as never).validate();
    return undefined;
  } catch (error) {
    return `${object.kind} ${object.metadata.name}: ${(error as Error).message}`;
  }
}

const RELEASE = (JSON.parse(read('package.json')) as { version: string }).version;
const NAMESPACES: Record<string, string | undefined> = {
  'deploy/k8s/base': undefined,
  'deploy/k8s/overlays/dev': 'batchgate-dev',
  'deploy/k8s/overlays/prod': 'batchgate',
};

type PodSpec = NonNullable<NonNullable<IDeployment['spec']>['template']['spec']>;
const podSpecOf = (deployment: K8sObject): PodSpec =>
  (deployment as unknown as IDeployment).spec?.template.spec as PodSpec;

describe('the Kubernetes schema validation', () => {
  it('rejects what the API server would (so a pass means something)', () => {
    const broken: K8sObject = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'broken' },
      spec: { replicas: 'two', selector: {}, template: { spec: { containers: [{ image: 'x' }] } } },
    };
    expect(schemaProblem(broken)).toMatch(/replicas must be integer/);
    const monitor: K8sObject = {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: { name: 'broken' },
      spec: { selector: {}, endpoints: [{ port: 'ops', interval: 15 }] },
    };
    expect(schemaProblem(monitor)).toMatch(/interval must be string/);
    expect(schemaProblem({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } })).toMatch(/no schema/);
  });
});

describe.each(KUSTOMIZATIONS)('kubectl kustomize %s', (dir) => {
  let objects: K8sObject[];
  beforeAll(() => {
    objects = kustomize(dir);
  });
  const find = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);
  const deploymentOf = (process: DeployableProcess) => find('Deployment', process.name);

  it('renders only objects valid against their Kubernetes or prometheus-operator schema', () => {
    // Per process: ServiceAccount, ConfigMap, Deployment, Service, PDB, NetworkPolicy, ServiceMonitor.
    expect(objects.length).toBeGreaterThanOrEqual(PROCESSES.length * 7);
    expect(objects.map(schemaProblem).filter(Boolean)).toEqual([]);
  });

  it('refers only to objects and ports that exist: ConfigMaps, Secrets, ServiceAccount, probe ports; Service, PDB and ServiceMonitor select its pods', () => {
    const production = dir.endsWith('/prod');
    const matches = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
      selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);
    const problems = everyProcess((process) => {
      const deployment = deploymentOf(process);
      if (!deployment) return ['no Deployment'];
      const pod = podSpecOf(deployment);
      const podLabels = (deployment as unknown as IDeployment).spec?.template.metadata?.labels;
      const container = pod.containers[0];
      const portNames = new Set((container?.ports ?? []).map((p) => p.name));
      const service = find('Service', process.name);
      const servicePorts = new Set(((service?.spec?.['ports'] as Array<{ name: string }> | undefined) ?? []).map((p) => p.name));
      const monitor = find('ServiceMonitor', process.name)?.spec as
        | { selector?: { matchLabels?: Record<string, string> }; endpoints?: Array<{ port?: string }> }
        | undefined;
      const pdb = find('PodDisruptionBudget', process.name)?.spec as { selector?: { matchLabels?: Record<string, string> } } | undefined;
      return [
        ...(container?.envFrom ?? []).flatMap((source) => [
          source.configMapRef && !find('ConfigMap', source.configMapRef.name ?? '') && `reads a missing ConfigMap ${source.configMapRef.name}`,
          // Production's Secrets are created by the cluster's secret store.
          !production && source.secretRef && !find('Secret', source.secretRef.name ?? '') && `reads a missing Secret ${source.secretRef.name}`,
        ]),
        !find('ServiceAccount', pod.serviceAccountName ?? 'default') && `runs as a missing ServiceAccount ${pod.serviceAccountName}`,
        ...[container?.startupProbe, container?.readinessProbe, container?.livenessProbe].map(
          (probe) => !portNames.has(String(probe?.httpGet?.port)) && `probes port ${probe?.httpGet?.port}, which the container lacks`,
        ),
        !matches(service?.spec?.['selector'] as Record<string, string> | undefined, podLabels) && 'its Service selects no pod of it',
        !matches(pdb?.selector?.matchLabels, podLabels) && 'its PodDisruptionBudget selects no pod of it',
        !matches(monitor?.selector?.matchLabels, service?.metadata.labels) && 'its ServiceMonitor selects no Service of it',
        ...(monitor?.endpoints ?? []).map((e) => !servicePorts.has(e.port ?? '') && `its ServiceMonitor scrapes port ${e.port}, which the Service lacks`),
      ];
    });
    expect(problems).toEqual([]);
  });

  it('puts every object in the overlay’s namespace', () => {
    const namespace = NAMESPACES[dir];
    const misplaced = objects
      .filter((o) => o.kind !== 'Namespace' && o.metadata.namespace !== namespace)
      .map((o) => `${o.kind} ${o.metadata.name} in ${o.metadata.namespace}`);
    expect(misplaced).toEqual([]);
    if (namespace) expect(find('Namespace', namespace)?.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });

  it('hardens every pod: startup, readiness and liveness probes, resources, non-root read-only container without privileges, seccomp, no API token, /tmp in an emptyDir', () => {
    const problems = everyProcess((process) => {
      const deployment = deploymentOf(process);
      if (!deployment) return ['no Deployment'];
      const pod = podSpecOf(deployment);
      const container = pod.containers[0];
      const security = container?.securityContext;
      const tmpMount = container?.volumeMounts?.find((m) => m.mountPath === '/tmp');
      const tmp = pod.volumes?.find((v) => v.name === tmpMount?.name);
      return [
        !container?.startupProbe?.httpGet && 'no startupProbe',
        !container?.readinessProbe?.httpGet && 'no readinessProbe',
        !container?.livenessProbe?.httpGet && 'no livenessProbe',
        (!container?.resources?.requests?.['cpu'] || !container.resources.requests['memory']) && 'no CPU and memory request',
        !container?.resources?.limits?.['memory'] && 'no memory limit',
        pod.securityContext?.runAsNonRoot !== true && 'pod may run as root',
        pod.securityContext?.seccompProfile?.type !== 'RuntimeDefault' && 'no RuntimeDefault seccomp profile',
        security?.allowPrivilegeEscalation !== false && 'privilege escalation allowed',
        security?.readOnlyRootFilesystem !== true && 'writable root filesystem',
        JSON.stringify(security?.capabilities?.drop) !== '["ALL"]' && 'capabilities not all dropped',
        !tmp?.emptyDir && '/tmp is not an emptyDir',
        pod.automountServiceAccountToken !== false && 'pod mounts a service-account token',
        pod.serviceAccountName !== process.name && `runs as service account ${pod.serviceAccountName}`,
        find('ServiceAccount', process.name)?.automountServiceAccountToken !== false &&
          'its ServiceAccount automounts a token',
      ];
    });
    expect(problems).toEqual([]);
  });

  it('gives every pod longer to terminate than the app drains (SHUTDOWN_DELAY_MS + SHUTDOWN_TIMEOUT_MS of the ConfigMaps it reads)', () => {
    const problems = everyProcess((process) => {
      const deployment = deploymentOf(process);
      if (!deployment) return ['no Deployment'];
      const pod = podSpecOf(deployment);
      const env: Record<string, string> = {};
      for (const source of pod.containers[0]?.envFrom ?? []) {
        const name = source.configMapRef?.name;
        if (name) Object.assign(env, find('ConfigMap', name)?.data);
      }
      const drainMs = Number(env['SHUTDOWN_DELAY_MS']) + Number(env['SHUTDOWN_TIMEOUT_MS']);
      return [
        !Number.isFinite(drainMs) && 'reads no SHUTDOWN_DELAY_MS and SHUTDOWN_TIMEOUT_MS',
        (pod.terminationGracePeriodSeconds ?? 30) * 1000 <= drainMs &&
          `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} is not longer than the ${drainMs} ms drain`,
      ];
    });
    expect(problems).toEqual([]);
  });

  it('rolls a process’s pods when a ConfigMap it reads changes (the template carries their digest)', () => {
    const problems = everyProcess((process) => {
      const deployment = deploymentOf(process) as unknown as IDeployment | undefined;
      if (!deployment) return ['no Deployment'];
      const read = (deployment.spec?.template.spec?.containers[0]?.envFrom ?? []).flatMap((source) =>
        source.configMapRef ? [find('ConfigMap', source.configMapRef.name ?? '')?.data ?? {}] : [],
      );
      const annotated = deployment.spec?.template.metadata?.annotations?.[CONFIG_HASH_ANNOTATION];
      return [read.length === 0 && 'reads no ConfigMap', annotated !== configDigest(read) && `config digest ${annotated} is not that of the ConfigMaps it reads`];
    });
    expect(problems).toEqual([]);
  });

  it('spreads every Deployment over zones and nodes, and rolls horizontal ones without losing capacity', () => {
    const problems = everyProcess((process) => {
      const deployment = deploymentOf(process);
      if (!deployment) return ['no Deployment'];
      const spread = podSpecOf(deployment).topologySpreadConstraints?.map((c) => c.topologyKey) ?? [];
      const strategy = (deployment as unknown as IDeployment).spec?.strategy;
      return [
        !spread.includes('topology.kubernetes.io/zone') && 'not spread over zones',
        !spread.includes('kubernetes.io/hostname') && 'not spread over nodes',
        process.scaling.kind === 'horizontal' && strategy?.rollingUpdate?.maxUnavailable !== 0 && 'a rollout takes a pod away first',
        process.scaling.kind === 'single' && strategy?.type !== 'Recreate' && 'a rollout runs two at once',
      ];
    });
    expect(problems).toEqual([]);
  });

  it('makes every gRPC Service headless, so callers resolve every pod and balance per call', () => {
    const grpc = PROCESSES.filter((p) => p.ports.grpc);
    expect(grpc.length).toBeGreaterThanOrEqual(2);
    const problems = everyProcess((process) => [
      process.ports.grpc !== undefined && find('Service', process.name)?.spec?.['clusterIP'] !== 'None' && 'gRPC behind a ClusterIP',
    ]);
    expect(problems).toEqual([]);
  });

  it('lets only the registry’s callers reach a process, Prometheus its metrics port, anyone only a published port; only database and NATS users reach MySQL and NATS', () => {
    const denyAll = find('NetworkPolicy', 'default-deny-ingress');
    expect(denyAll?.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress'] });
    const problems = everyProcess((process) => {
      const policy = find('NetworkPolicy', process.name) as unknown as INetworkPolicy | undefined;
      if (!policy) return ['no NetworkPolicy'];
      // Port → who may connect to it ("*" anyone, "prometheus", or the calling processes).
      const admitted = new Map<number, Set<string>>();
      for (const rule of policy.spec?.ingress ?? []) {
        const who = rule.from
          ? rule.from.flatMap((peer) =>
              peer.podSelector?.matchLabels?.['app.kubernetes.io/name'] === 'prometheus' && peer.namespaceSelector
                ? ['prometheus']
                : (peer.podSelector?.matchExpressions?.[0]?.values ?? ['?']),
            )
          : ['*'];
        for (const port of rule.ports ?? []) {
          const set = admitted.get(Number(port.port)) ?? new Set<string>();
          who.forEach((w) => set.add(w));
          admitted.set(Number(port.port), set);
        }
      }
      const expected = new Map<number, Set<string>>();
      const add = (port: number, who: string[]) => {
        const set = expected.get(port) ?? new Set<string>();
        who.forEach((w) => set.add(w));
        expected.set(port, set);
      };
      for (const role of Object.keys(process.ports) as PortRole[]) {
        const callers = callersOf(process, role).map((c) => c.name);
        if (callers.length > 0) add(portOf(process, role).port, callers);
      }
      if (process.publish) add(portOf(process, process.publish).port, ['*']);
      add(portOf(process, process.metrics.port).port, ['prometheus']);
      const show = (m: Map<number, Set<string>>) =>
        JSON.stringify([...m].map(([port, who]) => [port, [...who].sort()]).sort(([a], [b]) => Number(a) - Number(b)));
      return [show(admitted) !== show(expected) && `admits ${show(admitted)}, the registry says ${show(expected)}`];
    });
    expect(problems).toEqual([]);

    const clientsOf = (policyName: string) => {
      const rule = (find('NetworkPolicy', policyName) as unknown as INetworkPolicy | undefined)?.spec?.ingress?.[0];
      const label = Object.keys(rule?.from?.[0]?.podSelector?.matchLabels ?? {})[0] ?? 'none';
      return PROCESSES.filter((p) => podLabels(p)?.[label] === 'true').map((p) => p.name);
    };
    const podLabels = (process: DeployableProcess) =>
      (deploymentOf(process) as unknown as IDeployment | undefined)?.spec?.template.metadata?.labels;
    expect(clientsOf('mysql-clients')).toEqual(PROCESSES.filter((p) => p.database).map((p) => p.name));
    expect(clientsOf('nats-clients')).toEqual(PROCESSES.filter((p) => p.nats).map((p) => p.name));
  });

  it('gives every process its own Secret with exactly the keys it reads, and no other process’s', () => {
    const production = dir.endsWith('/prod');
    const problems = everyProcess((process) => {
      const deployment = deploymentOf(process);
      if (!deployment) return ['no Deployment'];
      const secretRefs = (podSpecOf(deployment).containers[0]?.envFrom ?? []).flatMap((s) => (s.secretRef ? [s.secretRef.name] : []));
      const expected = process.secrets.length > 0 ? [`${process.name}-secrets`] : [];
      const secret = find('Secret', `${process.name}-secrets`);
      return [
        JSON.stringify(secretRefs) !== JSON.stringify(expected) && `reads Secrets ${secretRefs}`,
        // Production's Secrets come from the cluster's secret store, never from an apply.
        production && secret && 'the prod overlay would overwrite its Secret',
        !production &&
          JSON.stringify(Object.keys(secretValues(secret)).sort()) !== JSON.stringify([...process.secrets].sort()) &&
          `its Secret holds ${Object.keys(secretValues(secret))}`,
      ];
    });
    expect(problems).toEqual([]);
    if (production) expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
  });

  it('wraps the Prometheus rules in a PrometheusRule and every Grafana dashboard in a ConfigMap Grafana’s sidecar loads, unchanged', () => {
    expect(find('PrometheusRule', 'batchgate')?.spec).toEqual(parse(read('deploy/prometheus/rules/batchgate.rules.yml')));
    const files = repository.list('deploy/grafana/dashboards').filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThanOrEqual(2);
    const problems = files.flatMap((file) => {
      const map = find('ConfigMap', `grafana-dashboard-${file.replace(/\.json$/, '')}`);
      return [
        !map && `${file}: no ConfigMap`,
        map && map.metadata.labels?.['grafana_dashboard'] !== '1' && `${file}: no grafana_dashboard label`,
        map && map.data?.[file] !== read(`deploy/grafana/dashboards/${file}`) && `${file}: content differs`,
      ].filter(Boolean);
    });
    expect(problems).toEqual([]);
  });
});

describe('the overlays', () => {
  it('dev runs one replica of each process with development secrets the apps accept, so it starts', () => {
    const objects = kustomize('deploy/k8s/overlays/dev');
    const replicas = PROCESSES.map(
      (p) => objects.find((o) => o.kind === 'Deployment' && o.metadata.name === p.name)?.spec?.['replicas'],
    );
    expect(replicas).toEqual(PROCESSES.map(() => 1));
    // MySQL and NATS run in the namespace, where the services look for them.
    expect(['mysql', 'nats'].map((name) => objects.some((o) => o.kind === 'Service' && o.metadata.name === name))).toEqual([true, true]);
    const problems = everyProcess((process) => {
      const values = secretValues(objects.find((o) => o.kind === 'Secret' && o.metadata.name === `${process.name}-secrets`));
      return process.secrets.map((key) => {
        const value = values[key];
        if (value === undefined) return `no ${key}`;
        if (key === 'TOKEN_ENCRYPTION_KEY') return Buffer.from(value, 'base64').length !== 32 && `${key} is not 32 bytes of base64`;
        if (key === 'DB_PASSWORD') return value !== '' && `${key} is not the dev MySQL's empty root password`;
        return value.length < 32 && `${key} is shorter than 32 characters`;
      });
    });
    expect(problems).toEqual([]);
  });

  it('prod pins every image to the release and runs each Deployment at its registry minimum', () => {
    const objects = kustomize('deploy/k8s/overlays/prod');
    expect(RELEASE).toMatch(/^\d+\.\d+\.\d+/);
    const problems = everyProcess((process) => {
      const deployment = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === process.name);
      if (!deployment) return ['no Deployment'];
      const image = podSpecOf(deployment).containers[0]?.image;
      const replicas = process.scaling.kind === 'horizontal' ? process.scaling.minReplicas : 1;
      return [
        image !== `batchgate/${process.app}:${RELEASE}` && `runs ${image}`,
        deployment.spec?.['replicas'] !== replicas && `${deployment.spec?.['replicas']} replicas`,
      ];
    });
    expect(problems).toEqual([]);
  });
});
