#!/usr/bin/env bash
# Regenerates the TypeScript contracts in libs/contracts/src/generated from proto/ with ts-proto
# (through buf, whose npm package ships its binary: no protoc download).
set -euo pipefail
cd "$(dirname "$0")/.."
npx --no-install buf lint
rm -rf libs/contracts/src/generated
npx --no-install buf generate
npx --no-install prettier --log-level warn --write "libs/contracts/src/generated/**/*.ts"
