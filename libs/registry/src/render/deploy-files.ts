import { PROCESSES } from '../processes';
import { COMPOSE_FILE, renderCompose } from './compose';
import {
  DASHBOARDS_DIR,
  KUSTOMIZATION_FILE,
  manifestFile,
  MONITORING_FILE,
  renderKustomization,
  renderManifest,
  renderMonitoring,
  renderShared,
  RULES_FILE,
  SHARED_FILE,
} from './kubernetes';
import { DEV_OVERLAY_FILE, PROD_OVERLAY_FILE, renderDevOverlay, renderProdOverlay } from './overlays';
import { PROMETHEUS_FILE, renderPrometheus } from './prometheus';

/** The repository's files the renderers read (paths relative to its root). */
export interface RepositoryFiles {
  read: (path: string) => string;
  /** File names in a folder. */
  list: (dir: string) => string[];
}

export interface DeployFile {
  /** Relative to the repository root. */
  path: string;
  /** Its content from the registry, given its current content (hand-written parts are kept). */
  render: (current: string, repository: RepositoryFiles) => string;
}

/** The images' tag: the repository's version (compose builds it, production runs it). */
export const releaseOf = (repository: RepositoryFiles): string =>
  (JSON.parse(repository.read('package.json')) as { version: string }).version;

/** Every file `npm run gen:deploy` writes. */
export function deployFiles(): DeployFile[] {
  return [
    { path: COMPOSE_FILE, render: (current, repository) => renderCompose(current, releaseOf(repository)) },
    { path: PROMETHEUS_FILE, render: renderPrometheus },
    { path: KUSTOMIZATION_FILE, render: renderKustomization },
    { path: SHARED_FILE, render: () => renderShared() },
    {
      path: MONITORING_FILE,
      render: (_current, repository) =>
        renderMonitoring({
          rules: repository.read(RULES_FILE),
          dashboards: Object.fromEntries(
            repository
              .list(DASHBOARDS_DIR)
              .filter((name) => name.endsWith('.json'))
              .map((name) => [name, repository.read(`${DASHBOARDS_DIR}/${name}`)]),
          ),
        }),
    },
    ...PROCESSES.map((process) => ({
      path: manifestFile(process),
      render: () => renderManifest(process),
    })),
    { path: DEV_OVERLAY_FILE, render: renderDevOverlay },
    {
      path: PROD_OVERLAY_FILE,
      render: (current, repository) => renderProdOverlay(current, releaseOf(repository)),
    },
  ];
}
