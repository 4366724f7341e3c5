import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { PROCESSES, type DeployableProcess, type RepositoryFiles } from '../src';

export const ROOT = resolve(__dirname, '../../..');
export const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');
export const repository: RepositoryFiles = { read, list: (dir) => readdirSync(join(ROOT, dir)) };

/** Every folder `kubectl kustomize` must render (CI renders and validates each). */
export const KUSTOMIZATIONS = ['deploy/k8s/base', 'deploy/k8s/overlays/dev', 'deploy/k8s/overlays/prod'];

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  automountServiceAccountToken?: boolean;
}

/** The objects `kubectl kustomize <dir>` renders. */
export function kustomize(dir: string): K8sObject[] {
  const text = execFileSync('kubectl', ['kustomize', join(ROOT, dir)], { encoding: 'utf8' });
  return parseAllDocuments(text).map((document) => document.toJSON() as K8sObject);
}

/** `problems(process)` for every process of the registry, as "<process>: <problem>" lines. */
export function everyProcess(
  problems: (process: DeployableProcess) => Array<string | false | undefined>,
): string[] {
  return PROCESSES.flatMap((process) =>
    problems(process)
      .filter((p): p is string => typeof p === 'string')
      .map((p) => `${process.name}: ${p}`),
  );
}

/** A Secret's values, from `stringData` or base64 `data` (what a secretGenerator writes). */
export function secretValues(secret: K8sObject | undefined): Record<string, string> {
  const decoded = Object.entries(secret?.data ?? {}).map(([key, value]) => [
    key,
    Buffer.from(value, 'base64').toString('utf8'),
  ]);
  return { ...Object.fromEntries(decoded), ...secret?.stringData };
}
