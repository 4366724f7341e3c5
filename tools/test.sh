#!/usr/bin/env bash
# The whole test suite: contracts lint, code lint, type-check, production build, then every jest project (unit,
# integration against MySQL/NATS/gRPC, end-to-end with real processes). The last line is the
# summary "N passed, N failed" from jest's JSON report.
set -uo pipefail
cd "$(dirname "$0")/.."
export NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false
status=0
mkdir -p tmp

step() { echo; echo "== $1"; }

step "buf lint (proto/)"
npx --no-install buf lint || status=1

step "eslint"
# The Nx module-boundary rule reads the project graph; compute it first.
npx --no-install nx show projects >/dev/null
npx --no-install eslint . --max-warnings 0 || status=1

step "type-check"
npx --no-install tsc -p tsconfig.json --noEmit || status=1

step "build (every project's production output)"
npx --no-install nx run-many -t build --outputStyle=static >tmp/build.log 2>&1 || { cat tmp/build.log; status=1; }

step "jest (unit, integration, end-to-end)"
rm -f tmp/jest-results.json
npx --no-install jest --ci --maxWorkers=2 --json --outputFile=tmp/jest-results.json "$@" || status=1

echo
if [ -f tmp/jest-results.json ]; then
  node -e '
    const r = require("./tmp/jest-results.json");
    // A suite that cannot even run (syntax error, failing beforeAll import) counts as a failure.
    console.log(`${r.numPassedTests} passed, ${r.numFailedTests + r.numRuntimeErrorTestSuites} failed`);
  '
else
  echo "0 passed, 1 failed"
fi
exit $status
