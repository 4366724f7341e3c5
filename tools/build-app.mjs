#!/usr/bin/env node
// Builds one app for production: compiles the app and the libraries with SWC (keeping NestJS's
// decorator metadata) into dist/apps/<app>/, rewriting the @batchgate/* path aliases to relative
// requires. Run it with `node dist/apps/<app>/apps/<app>/src/main.js`. Type errors are caught by
// `npm run typecheck`, not here.
import { transformFile } from '@swc/core';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const app = process.argv[2];
if (!app) {
  console.error('usage: node tools/build-app.mjs <app>');
  process.exit(2);
}
const outDir = join(root, 'dist/apps', app);

const aliases = [
  ['@batchgate/concurrency', 'libs/concurrency/src/index'],
  ['@batchgate/contracts/', 'libs/contracts/src/generated/'],
  ['@batchgate/contracts', 'libs/contracts/src/index'],
  ['@batchgate/platform/', 'libs/platform/src/'],
];

async function* sources(dir) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sources(path);
    else if (entry.name.endsWith('.ts') && !/\.(spec|int-spec|e2e-spec)\.ts$/.test(entry.name)) yield path;
  }
}

function rewriteAliases(code, file) {
  return code.replace(/require\("(@batchgate\/[^"]+)"\)/g, (match, specifier) => {
    for (const [alias, target] of aliases) {
      if (specifier === alias || (alias.endsWith('/') && specifier.startsWith(alias))) {
        const mapped = alias.endsWith('/') ? target + specifier.slice(alias.length) : target;
        let rel = relative(dirname(relative(root, file)), mapped);
        if (!rel.startsWith('.')) rel = `./${rel}`;
        return `require("${rel}")`;
      }
    }
    return match;
  });
}

await rm(outDir, { recursive: true, force: true });
let count = 0;
for (const dir of [join('apps', app, 'src'), 'libs/concurrency/src', 'libs/contracts/src', 'libs/platform/src']) {
  for await (const file of sources(join(root, dir))) {
    const { code, map } = await transformFile(file, {
      sourceMaps: true,
      jsc: {
        target: 'es2022',
        parser: { syntax: 'typescript', decorators: true },
        transform: { legacyDecorator: true, decoratorMetadata: true },
        keepClassNames: true,
      },
      module: { type: 'commonjs' },
    });
    const target = join(outDir, relative(root, file)).replace(/\.ts$/, '.js');
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, `${rewriteAliases(code, file)}\n//# sourceMappingURL=${target.split('/').pop()}.map`);
    if (map) await writeFile(`${target}.map`, map);
    count++;
  }
}
console.log(`${app}: ${count} files → ${relative(root, outDir)}/ (entry: apps/${app}/src/main.js)`);
