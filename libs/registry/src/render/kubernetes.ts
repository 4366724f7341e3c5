import {
  addressEnv,
  portOf,
  PROCESSES,
  type DeployableProcess,
  type PortRole,
  type ProcessPort,
} from '../processes';
import { GENERATED_HEADER, quoted, replaceRegion } from './generated-region';

export const K8S_BASE = 'deploy/k8s/base';
export const KUSTOMIZATION_FILE = `${K8S_BASE}/kustomization.yaml`;

/** The Secret holding every process's secrets; each container reads only the keys it lists. */
export const SECRET_NAME = 'batchgate-secrets';
export const CONFIG_MAP_NAME = 'batchgate-config';

export const manifestFile = (process: DeployableProcess): string =>
  `${K8S_BASE}/${process.name}.yaml`;

/** Inside a pod: its own listen addresses, the other processes by Service name. */
function podEnv(process: DeployableProcess): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of process.hostEnv) env[name] = '0.0.0.0';
  return { ...env, ...addressEnv(process, (name) => name), ...process.containerEnv };
}

const probe = (endpoint: { port: PortRole; path: string }): string =>
  `httpGet: { path: ${endpoint.path}, port: ${endpoint.port} }`;

function deployment(process: DeployableProcess): string[] {
  const name = process.name;
  const ports = Object.entries(process.ports) as Array<[PortRole, ProcessPort]>;
  const metrics = portOf(process, process.metrics.port);
  const { scaling } = process;
  return [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata:',
    `  name: ${name}`,
    `  labels: { app.kubernetes.io/name: ${name} }`,
    'spec:',
    `  replicas: ${scaling.kind === 'horizontal' ? scaling.minReplicas : 1}`,
    '  strategy:',
    ...(scaling.kind === 'horizontal'
      ? ['    type: RollingUpdate', '    rollingUpdate: { maxUnavailable: 0, maxSurge: 1 }']
      : [`    # Never two at once: ${scaling.reason}.`, '    type: Recreate']),
    '  selector:',
    `    matchLabels: { app.kubernetes.io/name: ${name} }`,
    '  template:',
    '    metadata:',
    `      labels: { app.kubernetes.io/name: ${name} }`,
    '      annotations:',
    '        prometheus.io/scrape: "true"',
    `        prometheus.io/port: ${quoted(metrics.port)}`,
    `        prometheus.io/path: ${process.metrics.path}`,
    '    spec:',
    "      # Longer than the app's drain: SHUTDOWN_DELAY_MS + SHUTDOWN_TIMEOUT_MS (batchgate-config).",
    '      terminationGracePeriodSeconds: 30',
    '      securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: RuntimeDefault } }',
    '      containers:',
    `        - name: ${name}`,
    `          image: batchgate/${process.app}:latest`,
    '          envFrom:',
    `            - configMapRef: { name: ${CONFIG_MAP_NAME} }`,
    '          env:',
    ...Object.entries(podEnv(process)).map(
      ([key, value]) => `            - { name: ${key}, value: ${quoted(value)} }`,
    ),
    ...process.secrets.map(
      (key) =>
        `            - { name: ${key}, valueFrom: { secretKeyRef: { name: ${SECRET_NAME}, key: ${key} } } }`,
    ),
    '          ports:',
    ...ports.map(([role, port]) => `            - { name: ${role}, containerPort: ${port.port} }`),
    '          readinessProbe:',
    `            ${probe(process.readiness)}`,
    '            periodSeconds: 2',
    '            failureThreshold: 2',
    '          livenessProbe:',
    `            ${probe(process.liveness)}`,
    '            periodSeconds: 10',
    '            failureThreshold: 3',
    '          resources:',
    '            requests: { cpu: 100m, memory: 128Mi }',
    '            limits: { memory: 512Mi }',
    '          securityContext:',
    '            allowPrivilegeEscalation: false',
    '            readOnlyRootFilesystem: true',
    '            capabilities: { drop: [ALL] }',
  ];
}

function service(process: DeployableProcess): string[] {
  const ports = Object.entries(process.ports) as Array<[PortRole, ProcessPort]>;
  return [
    'apiVersion: v1',
    'kind: Service',
    'metadata:',
    `  name: ${process.name}`,
    `  labels: { app.kubernetes.io/name: ${process.name} }`,
    'spec:',
    `  selector: { app.kubernetes.io/name: ${process.name} }`,
    '  ports:',
    ...ports.map(
      ([role, port]) => `    - { name: ${role}, port: ${port.port}, targetPort: ${role} }`,
    ),
  ];
}

function autoscaling(process: DeployableProcess): string[][] {
  if (process.scaling.kind !== 'horizontal') return [];
  const { minReplicas, maxReplicas, targetCpuPercent } = process.scaling;
  const hpa = [
    'apiVersion: autoscaling/v2',
    'kind: HorizontalPodAutoscaler',
    'metadata:',
    `  name: ${process.name}`,
    'spec:',
    `  scaleTargetRef: { apiVersion: apps/v1, kind: Deployment, name: ${process.name} }`,
    `  minReplicas: ${minReplicas}`,
    `  maxReplicas: ${maxReplicas}`,
    '  metrics:',
    '    - type: Resource',
    `      resource: { name: cpu, target: { type: Utilization, averageUtilization: ${targetCpuPercent} } }`,
  ];
  const pdb = [
    'apiVersion: policy/v1',
    'kind: PodDisruptionBudget',
    'metadata:',
    `  name: ${process.name}`,
    'spec:',
    '  # One pod at a time: a node drain proceeds even at one replica (the dev overlay).',
    '  maxUnavailable: 1',
    '  selector:',
    `    matchLabels: { app.kubernetes.io/name: ${process.name} }`,
  ];
  return [hpa, pdb];
}

/** The whole manifest file of one process. */
export function renderManifest(process: DeployableProcess): string {
  const documents = [deployment(process), service(process), ...autoscaling(process)];
  return (
    [GENERATED_HEADER, documents.map((lines) => lines.join('\n')).join('\n---\n')].join('\n') + '\n'
  );
}

/** kustomization.yaml with its list of process manifests regenerated. */
export function renderKustomization(current: string): string {
  return replaceRegion(
    current,
    PROCESSES.map((p) => `- ${p.name}.yaml`),
    KUSTOMIZATION_FILE,
  );
}
