// Shared jest settings. SWC compiles TypeScript (with decorator metadata for NestJS) far faster
// than ts-jest on a 2-core machine; type errors are caught separately by `npm run typecheck`.
const path = require('node:path');

const root = __dirname;

/** @param {string} projectDir absolute path of the project folder */
function projectPreset(projectDir, overrides = {}) {
  return {
    rootDir: projectDir,
    testEnvironment: 'node',
    // Integration tests talk to real MySQL, NATS and child processes.
    testTimeout: 30_000,
    testMatch: ['**/*.spec.ts', '**/*.int-spec.ts', '**/*.e2e-spec.ts'],
    transform: {
      '^.+\\.ts$': [
        '@swc/jest',
        {
          jsc: {
            target: 'es2022',
            parser: { syntax: 'typescript', decorators: true },
            transform: { legacyDecorator: true, decoratorMetadata: true },
          },
          module: { type: 'commonjs' },
          sourceMaps: 'inline',
        },
      ],
      // ES-module-only packages (jose 6): Node 20 loads them with require(esm), jest needs them compiled.
      '/node_modules/jose/.+\\.js$': ['@swc/jest', { module: { type: 'commonjs' } }],
    },
    transformIgnorePatterns: ['/node_modules/(?!jose/)'],
    moduleNameMapper: {
      '^@batchgate/concurrency$': path.join(root, 'libs/concurrency/src/index.ts'),
      '^@batchgate/contracts$': path.join(root, 'libs/contracts/src/index.ts'),
      '^@batchgate/contracts/(.*)$': path.join(root, 'libs/contracts/src/generated/$1'),
      '^@batchgate/local-servers$': path.join(root, 'libs/local-servers/src/index.ts'),
      '^@batchgate/platform/(.*)$': path.join(root, 'libs/platform/src/$1'),
      '^@batchgate/registry$': path.join(root, 'libs/registry/src/index.ts'),
      '^@batchgate/testing$': path.join(root, 'libs/testing/src/index.ts'),
    },
    moduleFileExtensions: ['ts', 'js', 'json'],
    ...overrides,
  };
}

module.exports = { projectPreset };
