/**
 * The Kubernetes base, from the registry: one file per process (everything that process needs,
 * so adding a registry entry deploys, secures, scales and monitors it), one file of what every
 * process shares, and one of the monitoring objects wrapped from deploy/prometheus and
 * deploy/grafana (kustomize loads files only below its own folder, so it cannot read them itself).
 *
 * The objects are typed with kubernetes-models (type-only imports): a misspelt field name fails
 * the type-check here, and the registry test validates every rendered overlay against the schemas.
 */
import { createHash } from 'node:crypto';
import { Document, isNode, parse } from 'yaml';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { INetworkPolicyIngressRule } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyIngressRule';
import type { INetworkPolicyPort } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPort';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { IPrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import type { IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import {
  addressEnv,
  callersOf,
  portOf,
  PROCESSES,
  type DeployableProcess,
  type PortRole,
  type ProcessPort,
} from '../processes';
import { GENERATED_HEADER, replaceRegion } from './generated-region';

export const K8S_BASE = 'deploy/k8s/base';
export const KUSTOMIZATION_FILE = `${K8S_BASE}/kustomization.yaml`;
export const SHARED_FILE = `${K8S_BASE}/shared.yaml`;
export const MONITORING_FILE = `${K8S_BASE}/monitoring.yaml`;
export const RULES_FILE = 'deploy/prometheus/rules/batchgate.rules.yml';
export const DASHBOARDS_DIR = 'deploy/grafana/dashboards';

export const NAME_LABEL = 'app.kubernetes.io/name';
/** On the pods of processes that use MySQL / NATS: the only pods those accept connections from. */
export const MYSQL_CLIENT_LABEL = 'batchgate.io/mysql-client';
export const NATS_CLIENT_LABEL = 'batchgate.io/nats-client';
/** The label of prometheus-operator's Prometheus pods (in any namespace): may scrape every metrics port. */
export const PROMETHEUS_POD_LABELS = { [NAME_LABEL]: 'prometheus' };
/** k8s-sidecar's default label for dashboards Grafana loads (kube-prometheus-stack). */
export const DASHBOARD_LABEL = 'grafana_dashboard';

/** The ConfigMap every process reads; each also has `<name>-config` and `<name>-secrets` of its own. */
export const SHARED_CONFIG_NAME = 'batchgate-config';
export const configMapName = (process: DeployableProcess): string => `${process.name}-config`;
export const secretName = (process: DeployableProcess): string => `${process.name}-secrets`;

/**
 * Readiness fails first, then Services and the gRPC clients' resolvers get SHUTDOWN_DELAY_MS to
 * stop routing to the pod, then in-flight work gets SHUTDOWN_TIMEOUT_MS to finish.
 */
export const DRAIN = { delayMs: 5_000, timeoutMs: 20_000 };
/** Longer than the drain, so Kubernetes never SIGKILLs a pod that is still finishing work. */
export const TERMINATION_GRACE_SECONDS = Math.ceil((DRAIN.delayMs + DRAIN.timeoutMs) / 1000) + 5;

const MYSQL_PORT = 3306;
const NATS_PORT = 4222;
const NATS_MONITORING_PORT = 8222;

export const manifestFile = (process: DeployableProcess): string =>
  `${K8S_BASE}/${process.name}.yaml`;

type K8sObject = { apiVersion: string; kind: string };

/** A YAML stream of `documents`, each with an optional comment above it. */
function yamlStream(documents: Array<{ object: K8sObject; comment?: string }>): string {
  const texts = documents.map(({ object, comment }) => {
    const document = new Document(object);
    // On the first node, not the document: no blank line between the comment and the object.
    if (comment && isNode(document.contents)) document.contents.commentBefore = ` ${comment}`;
    return document.toString({ lineWidth: 0 });
  });
  return `${GENERATED_HEADER}\n${texts.join('---\n')}`;
}

const selectorOf = (process: DeployableProcess) => ({ matchLabels: { [NAME_LABEL]: process.name } });
const metadataOf = (name: string, process?: DeployableProcess) => ({
  name,
  labels: { [NAME_LABEL]: process?.name ?? name },
});
const portsOf = (process: DeployableProcess) =>
  Object.entries(process.ports) as Array<[PortRole, ProcessPort]>;

/** Inside a pod: its own listen addresses, the other processes by Service name, its database and NATS. */
export function podEnv(process: DeployableProcess): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of process.hostEnv) env[name] = '0.0.0.0';
  Object.assign(env, addressEnv(process, (name) => name));
  if (process.database) env['DB_HOST'] = 'mysql';
  if (process.nats) env['NATS_URL'] = `nats://nats:${NATS_PORT}`;
  return { ...env, ...process.containerEnv };
}

/** Settings every process reads from SHARED_CONFIG_NAME. */
const SHARED_SETTINGS: Record<string, string> = {
  LOG_LEVEL: 'info',
  SHUTDOWN_DELAY_MS: String(DRAIN.delayMs),
  SHUTDOWN_TIMEOUT_MS: String(DRAIN.timeoutMs),
};

/** Pod-template annotation: a digest of the ConfigMaps the pod reads, so changing one rolls the pods. */
export const CONFIG_HASH_ANNOTATION = 'batchgate.io/config-sha256';

/** The digest of the data of the ConfigMaps a pod reads, in the order it reads them (keys in any order). */
export function configDigest(configMaps: Array<Record<string, string>>): string {
  const canonical = configMaps.map((data) => Object.entries(data).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex').slice(0, 16);
}

const httpProbe = (
  endpoint: { port: PortRole; path: string },
  timing: Omit<IProbe, 'httpGet'>,
): IProbe => ({ httpGet: { path: endpoint.path, port: endpoint.port }, timeoutSeconds: 2, ...timing });

function deployment(process: DeployableProcess): IDeployment {
  const { name, scaling } = process;
  const metrics = portOf(process, process.metrics.port);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: metadataOf(name, process),
    spec: {
      replicas: scaling.kind === 'horizontal' ? scaling.minReplicas : 1,
      strategy:
        scaling.kind === 'horizontal'
          ? { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } }
          : { type: 'Recreate' },
      selector: selectorOf(process),
      template: {
        metadata: {
          labels: {
            [NAME_LABEL]: name,
            ...(process.database ? { [MYSQL_CLIENT_LABEL]: 'true' } : {}),
            ...(process.nats ? { [NATS_CLIENT_LABEL]: 'true' } : {}),
          },
          annotations: {
            'prometheus.io/scrape': 'true',
            'prometheus.io/port': String(metrics.port),
            'prometheus.io/path': process.metrics.path,
            [CONFIG_HASH_ANNOTATION]: configDigest([SHARED_SETTINGS, podEnv(process)]),
          },
        },
        spec: {
          serviceAccountName: name,
          automountServiceAccountToken: false,
          // Service links would add <SERVICE>_PORT=tcp://… variables next to the registry's own.
          enableServiceLinks: false,
          terminationGracePeriodSeconds: TERMINATION_GRACE_SECONDS,
          securityContext: {
            runAsNonRoot: true,
            // The `node` user of the node images.
            runAsUser: 1000,
            runAsGroup: 1000,
            fsGroup: 1000,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          topologySpreadConstraints: ['topology.kubernetes.io/zone', 'kubernetes.io/hostname'].map(
            (topologyKey) => ({
              topologyKey,
              maxSkew: 1,
              // A preference: a one-node or one-zone cluster still schedules every replica.
              whenUnsatisfiable: 'ScheduleAnyway',
              labelSelector: selectorOf(process),
              matchLabelKeys: ['pod-template-hash'],
            }),
          ),
          containers: [
            {
              name,
              image: `batchgate/${process.app}:latest`,
              envFrom: [
                { configMapRef: { name: SHARED_CONFIG_NAME } },
                { configMapRef: { name: configMapName(process) } },
                ...(process.secrets.length > 0 ? [{ secretRef: { name: secretName(process) } }] : []),
              ],
              ports: portsOf(process).map(([role, port]) => ({
                name: role,
                containerPort: port.port,
                protocol: 'TCP',
              })),
              // Migrations run before the process serves: up to 3 minutes before liveness counts.
              startupProbe: httpProbe(process.liveness, { periodSeconds: 2, failureThreshold: 90 }),
              readinessProbe: httpProbe(process.readiness, { periodSeconds: 2, failureThreshold: 2 }),
              livenessProbe: httpProbe(process.liveness, { periodSeconds: 10, failureThreshold: 3 }),
              // No CPU limit: throttling a Node event loop shows as latency everywhere; the
              // request reserves the CPU and the autoscaler's target is a share of it.
              resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
              securityContext: {
                runAsNonRoot: true,
                privileged: false,
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
              },
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }],
        },
      },
    },
  };
}

/** gRPC: headless, so DNS answers every ready pod and the callers' round_robin spreads calls over them. */
function service(process: DeployableProcess): IService {
  const grpc = process.ports.grpc !== undefined;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadataOf(process.name, process),
    spec: {
      ...(grpc ? { clusterIP: 'None' } : {}),
      selector: selectorOf(process).matchLabels,
      ports: portsOf(process).map(([role, port]) => ({
        name: role,
        port: port.port,
        targetPort: role,
        protocol: 'TCP',
      })),
    },
  };
}

function serviceAccount(process: DeployableProcess): IServiceAccount {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: metadataOf(process.name, process),
    // No process calls the Kubernetes API.
    automountServiceAccountToken: false,
  };
}

function configMap(process: DeployableProcess): IConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: metadataOf(configMapName(process), process),
    data: podEnv(process),
  };
}

/** A placeholder every key: an overlay (or a secret store) supplies real values; the apps refuse these. */
export const SECRET_PLACEHOLDER = 'REPLACE-ME';

function secret(process: DeployableProcess): ISecret[] {
  if (process.secrets.length === 0) return [];
  return [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: metadataOf(secretName(process), process),
      type: 'Opaque',
      stringData: Object.fromEntries(process.secrets.map((key) => [key, SECRET_PLACEHOLDER])),
    },
  ];
}

function disruptionBudget(process: DeployableProcess): IPodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: metadataOf(process.name, process),
    // One pod at a time, so a node drain proceeds even at one replica.
    spec: { maxUnavailable: 1, selector: selectorOf(process) },
  };
}

function autoscaler(process: DeployableProcess): IHorizontalPodAutoscaler[] {
  if (process.scaling.kind !== 'horizontal') return [];
  const { minReplicas, maxReplicas, targetCpuPercent } = process.scaling;
  return [
    {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: metadataOf(process.name, process),
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: process.name },
        minReplicas,
        maxReplicas,
        metrics: [
          {
            type: 'Resource',
            resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: targetCpuPercent } },
          },
        ],
      },
    },
  ];
}

const fromPodsNamed = (names: string[]) => ({
  podSelector: { matchExpressions: [{ key: NAME_LABEL, operator: 'In', values: names }] },
});
const fromPrometheus = { namespaceSelector: {}, podSelector: { matchLabels: PROMETHEUS_POD_LABELS } };
const tcp = (port: number): INetworkPolicyPort => ({ port, protocol: 'TCP' });

/** Who may connect: the registry's callers on the port they call, Prometheus on the metrics port, anyone on a published port. */
function networkPolicy(process: DeployableProcess): INetworkPolicy {
  const ingress: INetworkPolicyIngressRule[] = [];
  for (const [role, port] of portsOf(process)) {
    const callers = callersOf(process, role).map((caller) => caller.name);
    if (callers.length > 0) ingress.push({ from: [fromPodsNamed(callers)], ports: [tcp(port.port)] });
  }
  if (process.publish) ingress.push({ ports: [tcp(portOf(process, process.publish).port)] });
  ingress.push({ from: [fromPrometheus], ports: [tcp(portOf(process, process.metrics.port).port)] });
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: metadataOf(process.name, process),
    spec: { podSelector: selectorOf(process), policyTypes: ['Ingress'], ingress },
  };
}

function serviceMonitor(process: DeployableProcess): IServiceMonitor {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: metadataOf(process.name, process),
    spec: {
      selector: selectorOf(process),
      endpoints: [{ port: process.metrics.port, path: process.metrics.path, interval: '15s' }],
    },
  };
}

/** The whole manifest file of one process. */
export function renderManifest(process: DeployableProcess): string {
  return yamlStream([
    { object: serviceAccount(process) },
    { object: configMap(process), comment: 'Ports, listen addresses and the addresses of what it calls (the registry).' },
    ...secret(process).map((object) => ({
      object,
      comment: 'Only the keys this process reads. Overlays replace the placeholders (dev) or leave the Secret to a secret store (prod).',
    })),
    { object: deployment(process) },
    {
      object: service(process),
      comment:
        process.ports.grpc !== undefined
          ? 'Headless: a gRPC connection lives long, so a ClusterIP would pin each caller to one pod; DNS answers every ready pod and the callers balance per call (round_robin).'
          : undefined,
    },
    { object: disruptionBudget(process) },
    ...autoscaler(process).map((object) => ({ object })),
    { object: networkPolicy(process) },
    { object: serviceMonitor(process), comment: 'prometheus-operator: scraped by a Prometheus whose serviceMonitorSelector matches app.kubernetes.io/part-of=batchgate.' },
  ]);
}

/** What every process shares: settings, and the network rules not tied to one process. */
export function renderShared(): string {
  const denyIngress: INetworkPolicy = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'default-deny-ingress' },
    spec: { podSelector: {}, policyTypes: ['Ingress'] },
  };
  const onlyClients = (name: string, clientLabel: string, port: number, monitoringPort?: number): INetworkPolicy => ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: `${name}-clients` },
    spec: {
      podSelector: { matchLabels: { [NAME_LABEL]: name } },
      policyTypes: ['Ingress'],
      ingress: [
        { from: [{ podSelector: { matchLabels: { [clientLabel]: 'true' } } }], ports: [tcp(port)] },
        ...(monitoringPort ? [{ from: [fromPrometheus], ports: [tcp(monitoringPort)] }] : []),
      ],
    },
  });
  const config: IConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: SHARED_CONFIG_NAME },
    data: SHARED_SETTINGS,
  };
  return yamlStream([
    { object: config, comment: `Read by every process. terminationGracePeriodSeconds (${TERMINATION_GRACE_SECONDS}) is longer than SHUTDOWN_DELAY_MS + SHUTDOWN_TIMEOUT_MS.` },
    { object: denyIngress, comment: 'Nothing reaches a pod of the namespace unless a policy below lets it.' },
    {
      object: onlyClients('mysql', MYSQL_CLIENT_LABEL, MYSQL_PORT),
      comment: `Only the processes with a database reach MySQL (when it runs in the namespace; a managed one needs the same rule in its firewall).`,
    },
    {
      object: onlyClients('nats', NATS_CLIENT_LABEL, NATS_PORT, NATS_MONITORING_PORT),
      comment: 'Only the processes that use NATS reach it; Prometheus scrapes its monitoring port.',
    },
  ]);
}

export interface MonitoringSources {
  /** deploy/prometheus/rules/batchgate.rules.yml */
  rules: string;
  /** file name → content of every deploy/grafana/dashboards/*.json */
  dashboards: Record<string, string>;
}

/** The Prometheus rules as a PrometheusRule, each Grafana dashboard as a ConfigMap Grafana's sidecar loads. */
export function renderMonitoring(sources: MonitoringSources): string {
  const rules: IPrometheusRule = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'batchgate' },
    spec: parse(sources.rules) as IPrometheusRule['spec'],
  };
  const dashboards: IConfigMap[] = Object.entries(sources.dashboards)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([file, content]) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: `grafana-dashboard-${file.replace(/\.json$/, '')}`,
        labels: { [DASHBOARD_LABEL]: '1' },
        annotations: { grafana_folder: 'batchgate' },
      },
      data: { [file]: content },
    }));
  return yamlStream([
    { object: rules, comment: `${RULES_FILE}, unchanged (its unit tests run with promtool).` },
    ...dashboards.map((object) => ({ object, comment: `${DASHBOARDS_DIR}/${Object.keys(object.data ?? {})[0]}, unchanged.` })),
  ]);
}

/** kustomization.yaml with its list of generated files regenerated. */
export function renderKustomization(current: string): string {
  return replaceRegion(
    current,
    [SHARED_FILE, MONITORING_FILE, ...PROCESSES.map(manifestFile)].map(
      (path) => `- ${path.slice(K8S_BASE.length + 1)}`,
    ),
    KUSTOMIZATION_FILE,
  );
}
