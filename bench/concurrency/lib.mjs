// Compiles libs/concurrency/src (TypeScript) to CommonJS in tmp/bench-concurrency/lib with SWC, so
// the benchmark runs the library's current source as plain JavaScript: the in-process runs and the
// child processes that measure peak RSS load exactly the same code, and no compiler is loaded
// into the processes being measured.
import { createRequire } from 'node:module';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const LIB_OUT = join(ROOT, 'tmp/bench-concurrency/lib');
const SRC = join(ROOT, 'libs/concurrency/src');

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

export function compileLib() {
  const swc = require('@swc/core');
  rmSync(LIB_OUT, { recursive: true, force: true });
  const files = walk(SRC).filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'));
  for (const file of files) {
    const { code } = swc.transformFileSync(file, {
      // Same semantics as the library build (tsc, target ES2022: [[Define]] class fields).
      jsc: {
        parser: { syntax: 'typescript' },
        target: 'es2022',
        transform: { useDefineForClassFields: true },
      },
      module: { type: 'commonjs' },
      sourceMaps: false,
    });
    const out = join(LIB_OUT, relative(SRC, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, code);
  }
  return files.length;
}

export function loadLib() {
  return require(join(LIB_OUT, 'index.js'));
}
