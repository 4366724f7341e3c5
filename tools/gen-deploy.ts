/**
 * `npm run gen:deploy`: writes the registry's processes into docker-compose.yml, the Kubernetes
 * base and overlays (with the Prometheus rules and Grafana dashboards wrapped for the operator) and
 * the Prometheus scrape config (libs/registry/src/render). `--check` writes nothing and
 * fails when a committed file differs from a fresh generation (CI, tools/check-generated.sh).
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { deployFiles, GENERATED_HEADER, K8S_BASE, type RepositoryFiles } from '@batchgate/registry';

const root = resolve(__dirname, '..');
const check = process.argv.includes('--check');
const repository: RepositoryFiles = {
  read: (path) => readFileSync(join(root, path), 'utf8'),
  list: (dir) => readdirSync(join(root, dir)),
};

const files = deployFiles();
const stale: string[] = [];
for (const file of files) {
  const path = join(root, file.path);
  const current = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const fresh = file.render(current, repository);
  if (fresh === current) continue;
  stale.push(file.path);
  if (!check) writeFileSync(path, fresh);
}
// A generated manifest of a process that left the registry.
const wanted = new Set(files.map((f) => f.path));
for (const name of readdirSync(join(root, K8S_BASE))) {
  const path = `${K8S_BASE}/${name}`;
  if (wanted.has(path) || !readFileSync(join(root, path), 'utf8').startsWith(GENERATED_HEADER))
    continue;
  stale.push(`${path} (no longer in the registry)`);
  if (!check) rmSync(join(root, path));
}

if (check && stale.length > 0) {
  console.error(
    `Deployment files are stale: run 'npm run gen:deploy' and commit them.\n  ${stale.join('\n  ')}`,
  );
  process.exit(1);
}
console.log(stale.length === 0 ? 'Deployment files are current.' : `Wrote ${stale.join(', ')}.`);
