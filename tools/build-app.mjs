#!/usr/bin/env node
// Builds one app for production: compiles the app and the libraries it may use with SWC (keeping
// NestJS's decorator metadata) into dist/apps/<app>/. SWC resolves the @batchgate/* aliases to
// relative requires itself, from the `paths` of tsconfig.base.json (the one place they are
// declared). Run it with `node dist/apps/<app>/apps/<app>/src/main.js`. Type errors are caught by
// `npm run typecheck`, not here.
import { transformFile } from '@swc/core';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const app = process.argv[2];
if (!app) {
  console.error('usage: node tools/build-app.mjs <app>');
  process.exit(2);
}
const outDir = join(root, 'dist/apps', app);
const { paths } = JSON.parse(await readFile(join(root, 'tsconfig.base.json'), 'utf8')).compilerOptions;
/** Production code never imports libs/testing (a lint rule), so it is not shipped. */
const libraries = [...new Set(Object.values(paths).map(([target]) => target.split('/').slice(0, 3).join('/')))].filter(
  (dir) => dir !== 'libs/testing/src',
);

async function* sources(dir) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sources(path);
    else if (entry.name.endsWith('.ts') && !/\.(spec|int-spec|e2e-spec)\.ts$/.test(entry.name)) yield path;
  }
}

await rm(outDir, { recursive: true, force: true });
let count = 0;
for (const dir of [join('apps', app, 'src'), ...libraries]) {
  for await (const file of sources(join(root, dir))) {
    const { code, map } = await transformFile(file, {
      sourceMaps: true,
      jsc: {
        target: 'es2022',
        parser: { syntax: 'typescript', decorators: true },
        transform: { legacyDecorator: true, decoratorMetadata: true },
        keepClassNames: true,
        baseUrl: root,
        paths,
      },
      module: { type: 'commonjs' },
    });
    const target = join(outDir, relative(root, file)).replace(/\.ts$/, '.js');
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, `${code}\n//# sourceMappingURL=${target.split('/').pop()}.map`);
    if (map) await writeFile(`${target}.map`, map);
    count++;
  }
}
console.log(`${app}: ${count} files → ${relative(root, outDir)}/ (entry: apps/${app}/src/main.js)`);
