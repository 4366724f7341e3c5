#!/usr/bin/env bash
# Fails when the committed generated contracts differ from a fresh generation of proto/, or the
# deployment files from a fresh `npm run gen:deploy`, or the dashboards from `npm run gen:dashboards`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/gen-proto.sh
if ! git diff --exit-code --stat -- libs/contracts/src/generated \
  || [ -n "$(git status --porcelain -- libs/contracts/src/generated)" ]; then
  echo "Generated contracts are stale: run 'npm run gen:proto' and commit libs/contracts/src/generated." >&2
  exit 1
fi
echo "Generated contracts are current."
# docker-compose.yml, the Kubernetes base and the Prometheus scrape jobs from the service registry.
node -r @swc-node/register tools/gen-deploy.ts --check
# The Grafana dashboards from their definitions (tools/gen-dashboards.ts).
node -r @swc-node/register tools/gen-dashboards.ts --check
