#!/usr/bin/env node
// Scaffolds a gRPC service on the token-manager pattern:
//   npm run new:service -- <name> <proto-key> <grpc-port> <ops-port>
//   e.g. npm run new:service -- kline-sync klinesync 50055 9105
// It writes apps/<name>/ (project, config schema, root module, main.ts) and prints what is left:
// the gRPC controller implementing the generated interface, entities and migrations, the entry
// in the service registry (libs/registry/src/processes.ts) and the README's configuration table.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const [name, protoKey, grpcPort, opsPort] = process.argv.slice(2);
if (!name || !protoKey || !grpcPort || !opsPort || !/^[a-z][a-z0-9-]*$/.test(name)) {
  console.error('usage: npm run new:service -- <name> <proto-key from SERVICE_PROTOS> <grpc-port> <ops-port>');
  process.exit(2);
}
const dir = join(root, 'apps', name);
if (existsSync(dir)) {
  console.error(`apps/${name} exists already`);
  process.exit(1);
}
const camel = name.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
const database = `batchgate_${name.replace(/-/g, '_')}`;
const files = {
  'project.json': JSON.stringify(
    {
      name,
      $schema: '../../node_modules/nx/schemas/project-schema.json',
      sourceRoot: `apps/${name}/src`,
      projectType: 'application',
      tags: ['type:app', `scope:${name}`],
      targets: {
        build: { executor: 'nx:run-commands', options: { command: `node tools/build-app.mjs ${name}` } },
        serve: { executor: 'nx:run-commands', options: { command: `node -r @swc-node/register apps/${name}/src/main.ts` } },
        test: { executor: 'nx:run-commands', options: { command: `jest -c apps/${name}/jest.config.js` } },
        lint: { executor: 'nx:run-commands', options: { command: `eslint apps/${name}` } },
      },
    },
    null,
    2,
  ),
  'jest.config.js': `const { projectPreset } = require('../../jest.preset');

module.exports = projectPreset(__dirname, { displayName: '${name}'});
`,
  [`src/config/${name}.config.ts`]: `import { z } from 'zod';
import { grpcServiceEnv } from '@batchgate/platform/nest';
import { mysqlEnv } from '@batchgate/platform/persistence';

export const ${camel}ConfigSchema = z.object({
  ...grpcServiceEnv({ grpcPort: ${grpcPort}, opsPort: ${opsPort} }),
  ...mysqlEnv('${database}'),
});

export type ${camel[0].toUpperCase() + camel.slice(1)}Config = z.infer<typeof ${camel}ConfigSchema>;
`,
  'src/app.module.ts': `import { Module, type DynamicModule } from '@nestjs/common';
import { EVENT_STREAMS } from '@batchgate/contracts';
import { CreateOutboxEvent1763856000000, MessagingModule, OutboxEventEntity } from '@batchgate/platform/messaging';
import { PersistenceModule } from '@batchgate/platform/persistence';
import type { ${camel[0].toUpperCase() + camel.slice(1)}Config } from './config/${name}.config';

@Module({})
export class AppModule {
  static register(config: ${camel[0].toUpperCase() + camel.slice(1)}Config): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PersistenceModule.forRoot(config, { entities: [OutboxEventEntity], migrations: [CreateOutboxEvent1763856000000] }),
        MessagingModule.forRoot({
          nats: { url: config.NATS_URL, name: '${name}' },
          streams: EVENT_STREAMS,
          duplicateWindowMs: config.NATS_DUPLICATE_WINDOW_MS,
          outbox: { pollIntervalMs: config.OUTBOX_POLL_MS, batchSize: config.OUTBOX_BATCH_SIZE, crashPoint: config.OUTBOX_TEST_CRASH },
        }),
      ],
      controllers: [],
      providers: [],
    };
  }
}
`,
  'src/main.ts': `import 'reflect-metadata';
import { loadConfigOrExit } from '@batchgate/platform/config';
import { runGrpcService } from '@batchgate/platform/nest';
import { AppModule } from './app.module';
import { ${camel}ConfigSchema } from './config/${name}.config';

const config = loadConfigOrExit(${camel}ConfigSchema);

void runGrpcService({
  name: '${name}',
  proto: '${protoKey}',
  serviceName: 'TODO_SERVICE_NAME', // the generated ..._SERVICE_NAME constant
  config,
  appModule: () => AppModule.register(config),
});
`,
};
for (const [file, content] of Object.entries(files)) {
  const path = join(dir, file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content.endsWith('\n') ? content : `${content}\n`);
}
console.log(`apps/${name} created. Next:
  1. proto/: add the service's RPCs, run 'npm run gen:proto', and use its ..._SERVICE_NAME in src/main.ts.
  2. src/<feature>/: a *.grpc.controller.ts implementing the generated ...ServiceController, services, entities.
  3. src/migrations/: one TypeORM migration per schema change; list entities and migrations in app.module.ts.
  4. libs/registry/src/processes.ts: add its entry (ports ${grpcPort}/${opsPort}, database '${database}', what it calls), then 'npm run gen:deploy' (compose, Kubernetes, Prometheus).
  5. test/: integration tests against MySQL and NATS (see apps/token-manager/test/token-manager.harness.ts).
  6. README: its configuration defaults.`);
