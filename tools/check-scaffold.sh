#!/usr/bin/env bash
# Proves the scaffolder's template still builds and works (CI, from .ci/run): copies the committed
# tree (HEAD) into a temporary folder, scaffolds a throw-away service there with
# tools/new-service.mjs, commits it, and checks what a change adding a service must pass: the
# type-check, buf lint, eslint of the new and edited files, tools/check-generated.sh, the builds of
# the app and the gateway, its integration test, the registry's and the contracts' tests, and its
# e2e spec through the gateway (against the MySQL and NATS the other tests use). The working tree
# is never touched; the copy is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)

name=scaffold-probe
tmp=$(mktemp -d "${TMPDIR:-/tmp}/batchgate-scaffold.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

git archive HEAD | tar -x -C "$tmp"
ln -s "$PWD/node_modules" "$tmp/node_modules"
cd "$tmp"
# check-generated.sh compares fresh generations with what git holds: the copy gets a repository.
git init -q
git add -A
git -c user.name=check-scaffold -c user.email=check-scaffold@localhost commit -qm 'HEAD'

# Ports no process of the registry uses (the scaffolder refuses taken ones).
node tools/new-service.mjs "$name" --grpc-port 50099 --ops-port 9199
git add -A
git -c user.name=check-scaffold -c user.email=check-scaffold@localhost commit -qm "scaffold $name"

npx --no-install tsc -p tsconfig.json --noEmit
npx --no-install buf lint
# The module-boundary rule reads the project graph; without one it skips itself.
NX_DAEMON=false npx --no-install nx show projects >/dev/null
npx --no-install eslint --max-warnings 0 "apps/$name" "apps/gateway/src/$name" "apps/e2e/src/$name.e2e-spec.ts" \
  libs/registry/src libs/contracts/src apps/gateway/src/app.module.ts apps/gateway/src/config apps/gateway/src/auth
bash tools/check-generated.sh
node tools/build-app.mjs "$name"
node tools/build-app.mjs gateway
# Its own tests, the checks of the registry and the contracts that now list it, and its routes
# through the gateway.
npx --no-install jest -c "apps/$name/jest.config.js"
npx --no-install jest -c libs/registry/jest.config.js
npx --no-install jest -c libs/contracts/jest.config.js
npx --no-install jest -c apps/e2e/jest.config.js "apps/e2e/src/$name.e2e-spec.ts"

echo "Scaffolded service $name builds and passes its test ($(( $(date +%s) - started )) s)."
