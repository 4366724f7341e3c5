/**
 * The generated parts of the Kubernetes overlays: the development Secrets (dev), the pinned
 * images and replica counts (prod). Everything else in the overlays is written by hand.
 */
import { PROCESSES } from '../processes';
import { quoted, replaceRegion } from './generated-region';
import { secretName } from './kubernetes';

export const DEV_OVERLAY_FILE = 'deploy/k8s/overlays/dev/kustomization.yaml';
export const PROD_OVERLAY_FILE = 'deploy/k8s/overlays/prod/kustomization.yaml';

/**
 * The apps' public development secrets: the values they default to under `npm start`
 * (apps/gateway DEVELOPMENT_JWT_SECRET, apps/token-manager DEVELOPMENT_ENCRYPTION_KEY, libs/platform
 * DEVELOPMENT_SERVICE_AUTH_SECRET; the dev MySQL has a passwordless root). Only the dev overlay
 * uses them; the registry test checks every secret a process reads has one the apps accept.
 */
export const DEVELOPMENT_SECRETS: Record<string, string> = {
  DB_PASSWORD: '',
  JWT_SECRET: 'batchgate-local-development-jwt-secret-change-me',
  TOKEN_ENCRYPTION_KEY: 'YmF0Y2hnYXRlLWxvY2FsLWRldmVsb3BtZW50LWtleSE=',
  SERVICE_AUTH_SECRET: 'batchgate-local-development-service-secret-change-me',
  /** role's chat-completions key; upstream-sim accepts any key unless told its keys. */
  CHAT_API_KEY: 'batchgate-local-development-chat-api-key',
};

/** The dev overlay with one generated Secret per process, holding the development values of its keys. */
export function renderDevOverlay(current: string): string {
  const lines = ['secretGenerator:'];
  for (const process of PROCESSES.filter((p) => p.secrets.length > 0)) {
    lines.push(`  - name: ${secretName(process)}`, '    behavior: replace', '    literals:');
    for (const key of process.secrets) {
      const value = DEVELOPMENT_SECRETS[key];
      if (value === undefined) throw new Error(`${process.name} reads ${key}: no development value in DEVELOPMENT_SECRETS`);
      lines.push(`      - ${quoted(`${key}=${value}`)}`);
    }
  }
  return replaceRegion(current, lines, DEV_OVERLAY_FILE);
}

/** The prod overlay with every image pinned to `releaseTag` and each Deployment's replicas. */
export function renderProdOverlay(current: string, releaseTag: string): string {
  const apps = [...new Set(PROCESSES.map((p) => p.app))];
  return replaceRegion(
    current,
    [
      'images:',
      ...apps.map((app) => `  - { name: batchgate/${app}, newTag: ${quoted(releaseTag)} }`),
      'replicas:',
      ...PROCESSES.map(
        (p) => `  - { name: ${p.name}, count: ${p.scaling.kind === 'horizontal' ? p.scaling.minReplicas : 1} }`,
      ),
    ],
    PROD_OVERLAY_FILE,
  );
}
