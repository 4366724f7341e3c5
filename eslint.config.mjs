import { readFileSync } from 'node:fs';
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

const devDependencies = Object.keys(
  JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')).devDependencies ?? {},
);

/**
 * Module boundaries; `coreExternalImports` is what a `type:core` project may import from outside,
 * `appTags` what an app may depend on (its tests may also use `type:testing`; its production code may not).
 */
const moduleBoundaries = (coreExternalImports, appTags = ['type:core', 'type:contracts', 'type:platform']) => [
  'error',
  {
    enforceBuildableLibDependency: false,
    allow: [],
    depConstraints: [
      // The engine stays framework-free: Node built-ins only.
      { sourceTag: 'type:core', onlyDependOnLibsWithTags: [], allowedExternalImports: coreExternalImports },
      { sourceTag: 'type:contracts', onlyDependOnLibsWithTags: [] },
      { sourceTag: 'type:platform', onlyDependOnLibsWithTags: ['type:core', 'type:contracts', 'type:platform'] },
      // The service registry is plain data for tools/ and the test stacks.
      { sourceTag: 'type:registry', onlyDependOnLibsWithTags: [] },
      // Private MariaDB/NATS servers for npm start and the tests.
      { sourceTag: 'type:local-servers', onlyDependOnLibsWithTags: [] },
      { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:core', 'type:contracts', 'type:platform', 'type:registry', 'type:local-servers'] },
      { sourceTag: 'type:app', onlyDependOnLibsWithTags: appTags },
      { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: ['type:contracts', 'type:testing', 'type:registry'] },
      // The gateway holds no state: it forwards over gRPC and never touches the DB or NATS.
      { sourceTag: 'scope:gateway', bannedExternalImports: ['typeorm', '@nestjs/typeorm', 'mysql2', 'nats'] },
    ],
  },
];

export default tseslint.config(
  // JavaScript is not linted, except the concurrency benchmark (plain ESM, no build step).
  { ignores: ['**/node_modules/**', 'dist/**', 'tmp/**', '.nx/**', 'libs/contracts/src/generated/**', '**/*.js', '**/*.mjs', '!bench/concurrency/*.mjs'] },
  ...tseslint.configs.recommended,
  prettier,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@nx/enforce-module-boundaries': moduleBoundaries(['node:*']),
    },
  },
  {
    // Tests of apps may start processes and databases through libs/testing; production code may not.
    files: ['apps/**/*.spec.ts', 'apps/**/*.int-spec.ts', 'apps/**/*.e2e-spec.ts', 'apps/*/test/**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': moduleBoundaries(['node:*'], ['type:core', 'type:contracts', 'type:platform', 'type:testing']),
    },
  },
  {
    // The engine's tests may use dev dependencies (fast-check); its source still only `node:*`.
    files: ['libs/concurrency/**/*.spec.ts', 'libs/concurrency/test/**/*.ts'],
    rules: { '@nx/enforce-module-boundaries': moduleBoundaries(['node:*', ...devDependencies]) },
  },
);
