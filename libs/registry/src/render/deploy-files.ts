import { PROCESSES } from '../processes';
import { COMPOSE_FILE, renderCompose } from './compose';
import {
  KUSTOMIZATION_FILE,
  manifestFile,
  renderKustomization,
  renderManifest,
} from './kubernetes';
import { PROMETHEUS_FILE, renderPrometheus } from './prometheus';

export interface DeployFile {
  /** Relative to the repository root. */
  path: string;
  /** Its content from the registry, given its current content (hand-written parts are kept). */
  render: (current: string) => string;
}

/** Every file `npm run gen:deploy` writes. */
export function deployFiles(): DeployFile[] {
  return [
    { path: COMPOSE_FILE, render: renderCompose },
    { path: PROMETHEUS_FILE, render: renderPrometheus },
    { path: KUSTOMIZATION_FILE, render: renderKustomization },
    ...PROCESSES.map((process) => ({
      path: manifestFile(process),
      render: () => renderManifest(process),
    })),
  ];
}
