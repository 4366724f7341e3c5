#!/usr/bin/env node
// Scaffolds a gRPC service on the pattern token-manager and kline-sync follow, with one working
// use case: a resource its tenant owns, with create, get by id and a paged list.
//
//   npm run new:service -- <name> --grpc-port <port> --ops-port <port> [--resource <singular>]
//   e.g. npm run new:service -- asset-catalog --grpc-port 50056 --ops-port 9106 --resource asset
//
// It writes
//   proto/<key>/v1/<key>.proto                 the contract (<key> = the name without dashes)
//   apps/<name>/                               project, jest config, main.ts, app.module.ts,
//     src/config/<name>.config.ts              its environment (zod; providers inject SERVICE_CONFIG)
//     src/<name>.errors.ts, <name>.metrics.ts  its errors catalogue and its metrics
//     src/<resources>/                         entity, repository (every query names the tenant),
//                                              service, gRPC controller
//     src/migrations/                          the table's TypeORM migration
//     test/<name>.int-spec.ts                  create / get / list over gRPC and MySQL, a foreign
//                                              tenant's id NOT_FOUND, the paging rule
//   apps/gateway/src/<name>/                   module, HTTP controller, DTOs of its routes
//   apps/e2e/src/<name>.e2e-spec.ts            the routes through the gateway: statuses, tenant
//                                              scoping, paging, bad input, permissions
// and inserts one entry each below the `// new-service: <anchor>` comments of
// libs/contracts/src/proto-files.ts (SERVICE_PROTOS, and the import of the service's generated
// definition), libs/registry/src/processes.ts (the process,
// and the gateway's downstream), apps/gateway/src/app.module.ts, apps/gateway/src/config/gateway.config.ts
// (<NAME>_URL) and apps/gateway/src/auth/principal.ts (its permissions), the app into the
// implicitDependencies of apps/e2e/project.json, and its routes' fixtures, permissions and process
// into apps/e2e/src/authorization-matrix.e2e-spec.ts. Then it runs `npm run gen:proto` and
// `npm run gen:deploy`, so `bash tools/check-generated.sh` and `npm test` stay green.
//
// It refuses a name, key, port, permission or file that exists already, and checks every anchor
// before it writes anything: a missing or repeated anchor fails the run with nothing changed.
// CI (`tools/check-scaffold.sh`, from .ci/run) scaffolds a throw-away service into a copy of the
// tree, then type-checks, lints and builds it and runs its integration and e2e specs, so this
// template cannot fall behind the code it copies.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const USAGE =
  'usage: npm run new:service -- <name> --grpc-port <port> --ops-port <port> [--resource <singular>]';
const KEBAB = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

function fail(message) {
  console.error(message);
  process.exit(1);
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      'grpc-port': { type: 'string' },
      'ops-port': { type: 'string' },
      resource: { type: 'string', default: 'item' },
    },
  });
} catch (error) {
  fail(`${error.message}\n${USAGE}`);
}
const [name, ...extra] = parsed.positionals;
const { 'grpc-port': grpcArg, 'ops-port': opsArg, resource } = parsed.values;
if (!name || extra.length > 0 || !grpcArg || !opsArg) fail(USAGE);
if (!KEBAB.test(name) || name.length > 32) {
  fail(`${name}: a service name is 1-32 lower-case letters and digits in dash-separated words`);
}
if (!KEBAB.test(resource) || resource.length > 32) {
  fail(
    `--resource ${resource}: a resource is 1-32 lower-case letters and digits in dash-separated words`,
  );
}
const port = (flag, value) => {
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < 1024 || number > 65535)
    fail(`--${flag} ${value}: a port is 1024-65535`);
  return number;
};
const grpcPort = port('grpc-port', grpcArg);
const opsPort = port('ops-port', opsArg);
if (grpcPort === opsPort) fail('--grpc-port and --ops-port must differ');

const words = (kebab) => kebab.split('-');
const pascal = (kebab) =>
  words(kebab)
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join('');
const camel = (kebab) => pascal(kebab)[0].toLowerCase() + pascal(kebab).slice(1);
const upper = (kebab) => words(kebab).join('_').toUpperCase();
const plural = (word) =>
  /(s|x|z|ch|sh)$/.test(word)
    ? `${word}es`
    : /[^aeiou]y$/.test(word)
      ? `${word.slice(0, -1)}ies`
      : `${word}s`;
const resources = plural(resource);

/** Every name the templates use, derived from the service name and the resource. */
const n = {
  name,
  key: words(name).join(''),
  Name: pascal(name),
  nameCamel: camel(name),
  NAME: upper(name),
  snake: words(name).join('_'),
  database: `batchgate_${words(name).join('_')}`,
  grpcPort,
  opsPort,
  one: words(resource).join(' '),
  aOne: `${/^[aeiou]/.test(resource) ? 'an' : 'a'} ${words(resource).join(' ')}`,
  many: words(resources).join(' '),
  One: pascal(resource),
  Many: pascal(resources),
  oneCamel: camel(resource),
  manyCamel: camel(resources),
  ONE: upper(resource),
  table: words(resource).join('_'),
  manySnake: words(resources).join('_'),
  resources,
  writePermission: `${name}:${resources}:write`,
  readPermission: `${name}:${resources}:read`,
};
const contract = `@batchgate/contracts/${n.key}/v1/${n.key}`;
const serviceConst = `${n.NAME}_SERVICE_NAME`;
const clientToken = `${n.NAME}_CLIENT`;
const urlEnv = `${n.NAME}_URL`;
const metricName = `${n.snake}_${n.manySnake}_created_total`;
/** Names of one import, in the order the repository's imports list them. */
const specifiers = (...names) =>
  names.sort((a, b) => a.replace(/^type /, '').localeCompare(b.replace(/^type /, ''))).join(', ');
const migrationTime = Date.now();
const migrationClass = `Create${n.One}${migrationTime}`;
const migrationFile = `${migrationTime}-create-${resource}`;

// --- What it writes ---------------------------------------------------------------------------

const files = new Map();
const app = (path, text) => files.set(`apps/${name}/${path}`, text);
const gateway = (path, text) => files.set(`apps/gateway/src/${name}/${path}`, text);

files.set(
  `proto/${n.key}/v1/${n.key}.proto`,
  `syntax = "proto3";

package ${n.key}.v1;

import "common/v1/common.proto";

// ${n.Many} of a tenant. Every request names the caller's tenant: another tenant's ${n.one} id
// answers NOT_FOUND, as one that does not exist, and lists hold only the tenant's ${n.many}.
service ${n.Name}Service {
  // Stores a new ${n.one} of the tenant.
  rpc Create${n.One}(Create${n.One}Request) returns (${n.One});
  // The tenant's ${n.one} by id.
  rpc Get${n.One}(Get${n.One}Request) returns (${n.One});
  // A page of the tenant's ${n.many}, newest first.
  rpc List${n.Many}(List${n.Many}Request) returns (List${n.Many}Response);
}

message ${n.One} {
  int64 id = 1;
  string name = 2;
  // RFC 3339.
  string created_at = 3;
}

message Create${n.One}Request {
  // 1-100 characters.
  string name = 1;
  // The owning tenant (the caller's).
  string tenant = 2;
}

message Get${n.One}Request {
  int64 id = 1;
  // The caller's tenant: another tenant's ${n.one} is not found.
  string tenant = 2;
}

message List${n.Many}Request {
  common.v1.PageRequest page = 1;
  // The caller's tenant: the page holds only its ${n.many}.
  string tenant = 2;
}

message List${n.Many}Response {
  repeated ${n.One} ${n.manySnake} = 1;
  common.v1.PageInfo page = 2;
}
`,
);

app(
  'project.json',
  `${JSON.stringify(
    {
      name,
      $schema: '../../node_modules/nx/schemas/project-schema.json',
      sourceRoot: `apps/${name}/src`,
      projectType: 'application',
      tags: ['type:app', `scope:${name}`],
      targets: {
        build: {
          executor: 'nx:run-commands',
          options: { command: `node tools/build-app.mjs ${name}` },
          outputs: [`{workspaceRoot}/dist/apps/${name}`],
        },
        serve: {
          executor: 'nx:run-commands',
          options: { command: `node -r @swc-node/register apps/${name}/src/main.ts` },
        },
        test: {
          executor: 'nx:run-commands',
          options: { command: `jest -c apps/${name}/jest.config.js` },
        },
        lint: { executor: 'nx:run-commands', options: { command: `eslint apps/${name}` } },
      },
    },
    null,
    2,
  )}\n`,
);

app(
  'jest.config.js',
  `const { projectPreset } = require('../../jest.preset');

module.exports = projectPreset(__dirname, { displayName: '${name}' });
`,
);

app(
  'src/main.ts',
  `import 'reflect-metadata';
import { ${serviceConst} } from '${contract}';
import { loadConfigOrExit } from '@batchgate/platform/config';
import { runGrpcService } from '@batchgate/platform/nest';
import { AppModule } from './app.module';
import { ${n.nameCamel}ConfigSchema } from './config/${name}.config';

const config = loadConfigOrExit(${n.nameCamel}ConfigSchema);

void runGrpcService({
  name: '${name}',
  proto: '${n.key}',
  serviceName: ${serviceConst},
  config,
  appModule: () => AppModule.register(config),
});
`,
);

app(
  'src/app.module.ts',
  `import { Module, type DynamicModule } from '@nestjs/common';
import { PersistenceModule } from '@batchgate/platform/persistence';
import type { ${n.Name}Config } from './config/${name}.config';
import { ${n.Name}Metrics } from './${name}.metrics';
import { ${migrationClass} } from './migrations/${migrationFile}';
import { ${n.One}Entity } from './${resources}/${resource}.entity';
import { ${n.Many}GrpcController } from './${resources}/${resources}.grpc.controller';
import { ${n.Many}Repository } from './${resources}/${resources}.repository';
import { ${n.Many}Service } from './${resources}/${resources}.service';

export const ${n.NAME}_SCHEMA = {
  entities: [${n.One}Entity],
  migrations: [${migrationClass}],
};

@Module({})
export class AppModule {
  static register(config: ${n.Name}Config): DynamicModule {
    return {
      module: AppModule,
      imports: [PersistenceModule.forRoot(config, ${n.NAME}_SCHEMA)],
      controllers: [${n.Many}GrpcController],
      providers: [${n.Name}Metrics, ${n.Many}Repository, ${n.Many}Service],
    };
  }
}
`,
);

app(
  `src/config/${name}.config.ts`,
  `import { z } from 'zod';
import { grpcServiceEnv } from '@batchgate/platform/nest';
import { mysqlEnv } from '@batchgate/platform/persistence';

/**
 * ${name}'s environment, parsed once at start (main.ts refuses to start on a bad value). Every
 * provider may read it: \`@Inject(SERVICE_CONFIG) config: ${n.Name}Config\`.
 */
export const ${n.nameCamel}ConfigSchema = z.object({
  ...grpcServiceEnv({ grpcPort: ${grpcPort}, opsPort: ${opsPort} }),
  ...mysqlEnv('${n.database}'),
});

export type ${n.Name}Config = z.infer<typeof ${n.nameCamel}ConfigSchema>;
`,
);

app(
  `src/${name}.errors.ts`,
  `import { defineErrors, domainError } from '@batchgate/platform/errors';

/** Every error ${name} answers with (besides the platform's), each code defined once. */
export const ${n.nameCamel}Errors = defineErrors({
  ${n.oneCamel}NotFound: domainError('not_found', '${n.NAME}.${n.ONE}_NOT_FOUND', (id: number) => ({
    message: \`${n.One} \${id} does not exist\`,
    details: { id },
  })),
  invalid${n.One}Field: domainError(
    'invalid_argument',
    '${n.NAME}.INVALID_${n.ONE}',
    (field: string, rule: string) => ({
      message: \`\${field} \${rule}\`,
      details: { field },
    }),
  ),
});
`,
);

app(
  `src/${name}.metrics.ts`,
  `import { Inject, Injectable } from '@nestjs/common';
import { Counter, Registry } from 'prom-client';

/**
 * Every metric ${name} declares, in one place (dashboards and alert rules read these names).
 * Providers inject this class, never the registry.
 */
@Injectable()
export class ${n.Name}Metrics {
  readonly ${n.manyCamel}Created: Counter;

  constructor(@Inject(Registry) registry: Registry) {
    this.${n.manyCamel}Created = new Counter({
      name: '${metricName}',
      help: '${n.Many} stored',
      registers: [registry],
    });
  }
}
`,
);

app(
  `src/${resources}/${resource}.entity.ts`,
  `import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

@Entity({ name: '${n.table}' })
@Index('idx_${n.table}_tenant', ['tenant', 'id'])
export class ${n.One}Entity {
  @PrimaryGeneratedColumn({ type: 'bigint', unsigned: true })
  id!: string;

  /** The owning tenant: only its callers see the ${n.one}. */
  @Column({ type: 'varchar', length: 64 })
  tenant!: string;

  @Column({ type: 'varchar', length: 100 })
  name!: string;

  @Column({ name: 'created_at', type: 'datetime', precision: 3, default: () => 'CURRENT_TIMESTAMP(3)' })
  createdAt!: Date;
}
`,
);

app(
  `src/${resources}/${resources}.repository.ts`,
  `import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type Repository } from 'typeorm';
import type { PageWindow } from '@batchgate/platform/paging';
import { ${n.One}Entity } from './${resource}.entity';

/**
 * The \`${n.table}\` table, one tenant at a time: every query names the tenant, so another
 * tenant's ${n.one} is not found and never listed.
 */
@Injectable()
export class ${n.Many}Repository {
  private readonly rows: Repository<${n.One}Entity>;

  constructor(@Inject(DataSource) dataSource: DataSource) {
    this.rows = dataSource.getRepository(${n.One}Entity);
  }

  /** Stores ${n.aOne} of the tenant; its row as stored (id and creation time from MySQL). */
  async insert(tenant: string, name: string): Promise<${n.One}Entity> {
    const { identifiers } = await this.rows.insert({ tenant, name });
    return this.rows.findOneByOrFail({ id: String(identifiers[0]?.['id']), tenant });
  }

  /** The tenant's ${n.one}; null for another tenant's, as for one that does not exist. */
  find(tenant: string, id: string): Promise<${n.One}Entity | null> {
    return this.rows.findOneBy({ id, tenant });
  }

  /** One page of the tenant's ${n.many}, newest first, and how many it has in all. */
  async page(tenant: string, window: PageWindow): Promise<{ rows: ${n.One}Entity[]; total: number }> {
    const [rows, total] = await this.rows.findAndCount({
      where: { tenant },
      order: { id: 'DESC' },
      skip: window.offset,
      take: window.limit,
    });
    return { rows, total };
  }
}
`,
);

app(
  `src/${resources}/${resources}.service.ts`,
  `import { Inject, Injectable } from '@nestjs/common';
import type { ${specifiers(`Create${n.One}Request`, `Get${n.One}Request`, n.One, `List${n.Many}Request`, `List${n.Many}Response`)} } from '${contract}';
import { callerTenant } from '@batchgate/platform/errors';
import { pageInfo, pageWindow } from '@batchgate/platform/paging';
import { ${n.nameCamel}Errors } from '../${name}.errors';
import { ${n.Name}Metrics } from '../${name}.metrics';
import type { ${n.One}Entity } from './${resource}.entity';
import { ${n.Many}Repository } from './${resources}.repository';

/** Longest name ${n.aOne} may have (the column's length; the gateway checks the same). */
const MAX_NAME_LENGTH = 100;

@Injectable()
export class ${n.Many}Service {
  constructor(
    @Inject(${n.Many}Repository) private readonly ${n.manyCamel}: ${n.Many}Repository,
    @Inject(${n.Name}Metrics) private readonly metrics: ${n.Name}Metrics,
  ) {}

  async create(request: Create${n.One}Request): Promise<${n.One}> {
    const tenant = callerTenant(request.tenant);
    if (request.name.length < 1 || request.name.length > MAX_NAME_LENGTH) {
      throw ${n.nameCamel}Errors.invalid${n.One}Field('name', \`must be 1-\${MAX_NAME_LENGTH} characters\`);
    }
    const row = await this.${n.manyCamel}.insert(tenant, request.name);
    this.metrics.${n.manyCamel}Created.inc();
    return to${n.One}Message(row);
  }

  async get(request: Get${n.One}Request): Promise<${n.One}> {
    const row = await this.${n.manyCamel}.find(callerTenant(request.tenant), String(request.id));
    if (!row) throw ${n.nameCamel}Errors.${n.oneCamel}NotFound(request.id);
    return to${n.One}Message(row);
  }

  async list(request: List${n.Many}Request): Promise<List${n.Many}Response> {
    const tenant = callerTenant(request.tenant);
    const window = pageWindow(request.page);
    const { rows, total } = await this.${n.manyCamel}.page(tenant, window);
    return { ${n.manyCamel}: rows.map(to${n.One}Message), page: pageInfo(window, total) };
  }
}

function to${n.One}Message(row: ${n.One}Entity): ${n.One} {
  return { id: Number(row.id), name: row.name, createdAt: row.createdAt.toISOString() };
}
`,
);

app(
  `src/${resources}/${resources}.grpc.controller.ts`,
  `import { Controller, Inject } from '@nestjs/common';
import {
  ${n.Name}ServiceControllerMethods,
  ${specifiers(...[`Create${n.One}Request`, `Get${n.One}Request`, n.One, `${n.Name}ServiceController`, `List${n.Many}Request`, `List${n.Many}Response`].map((t) => `type ${t}`))},
} from '${contract}';
import { ${n.Many}Service } from './${resources}.service';

@Controller()
@${n.Name}ServiceControllerMethods()
export class ${n.Many}GrpcController implements ${n.Name}ServiceController {
  constructor(@Inject(${n.Many}Service) private readonly ${n.manyCamel}: ${n.Many}Service) {}

  create${n.One}(request: Create${n.One}Request): Promise<${n.One}> {
    return this.${n.manyCamel}.create(request);
  }

  get${n.One}(request: Get${n.One}Request): Promise<${n.One}> {
    return this.${n.manyCamel}.get(request);
  }

  list${n.Many}(request: List${n.Many}Request): Promise<List${n.Many}Response> {
    return this.${n.manyCamel}.list(request);
  }
}
`,
);

app(
  `src/migrations/${migrationFile}.ts`,
  `import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ${migrationClass} implements MigrationInterface {
  name = '${migrationClass}';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(\`
      CREATE TABLE ${n.table} (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        tenant VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL COMMENT 'compared byte for byte (BinaryOwnerColumns)',
        name VARCHAR(100) NOT NULL,
        created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        PRIMARY KEY (id),
        INDEX idx_${n.table}_tenant (tenant, id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci\`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE ${n.table}');
  }
}
`,
);

app(
  `test/${name}.int-spec.ts`,
  `import { status as GrpcStatus, type Metadata } from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { lastValueFrom } from 'rxjs';
import { ${serviceConst}, type ${n.Name}ServiceClient } from '${contract}';
import { createGrpcClient } from '@batchgate/platform/grpc';
import { startTestStack, testServiceCredentials, type TestStack } from '@batchgate/testing';

describe('${name} over gRPC with MySQL', () => {
  let stack: TestStack;
  let client: ${n.Name}ServiceClient;
  let closeClient: () => void;

  beforeAll(async () => {
    stack = await startTestStack({ processes: ['${name}'] });
    ({ client, close: closeClient } = createGrpcClient<${n.Name}ServiceClient>({
      proto: '${n.key}',
      service: ${serviceConst},
      url: stack.url('${name}', 'grpc'),
      deadlineMs: 5_000,
      registry: new Registry(),
      credentials: testServiceCredentials,
    }));
  }, 60_000);
  // Also after a failed start: the stack stopped what it had started, and no client was made.
  afterAll(async () => {
    closeClient?.();
    await stack?.stop();
  });

  /** The gRPC status and machine code of a call that must fail. */
  const failure = async (call: Promise<unknown>) => {
    const error = (await call.then(
      () => undefined,
      (e: unknown) => e,
    )) as { code: number; metadata: Metadata } | undefined;
    if (!error) throw new Error('expected the call to fail');
    return { code: error.code, machineCode: error.metadata.get('x-error-code')[0] };
  };
  const create = (tenant: string, name: string) => lastValueFrom(client.create${n.One}({ tenant, name }));
  const list = (tenant: string, page: number, pageSize: number) =>
    lastValueFrom(client.list${n.Many}({ tenant, page: { page, pageSize } }));

  it('stores ${n.aOne} of the caller\\'s tenant and reads it back by id', async () => {
    const created = await create('acme', 'first');
    expect(created.id).toBeGreaterThan(0);
    expect(created.name).toBe('first');
    expect(Number.isNaN(Date.parse(created.createdAt))).toBe(false);
    expect(await lastValueFrom(client.get${n.One}({ tenant: 'acme', id: created.id }))).toEqual(created);
  });

  it('answers NOT_FOUND for another tenant\\'s ${n.one}, as for one that does not exist, and never lists it', async () => {
    const created = await create('acme', 'private');
    const notFound = { code: GrpcStatus.NOT_FOUND, machineCode: '${n.NAME}.${n.ONE}_NOT_FOUND' };
    expect(await failure(lastValueFrom(client.get${n.One}({ tenant: 'globex', id: created.id })))).toEqual(notFound);
    expect(await failure(lastValueFrom(client.get${n.One}({ tenant: 'acme', id: created.id + 1_000 })))).toEqual(notFound);
    expect(await list('globex', 1, 100)).toEqual({ ${n.manyCamel}: [], page: { page: 1, pageSize: 100, total: 0 } });
  });

  it('lists the tenant\\'s ${n.many} newest first, one page at a time, with the total', async () => {
    const first = await create('initech', 'one');
    const second = await create('initech', 'two');
    const third = await create('initech', 'three');

    const page1 = await list('initech', 1, 2);
    expect(page1.${n.manyCamel}).toEqual([third, second]);
    expect(page1.page).toEqual({ page: 1, pageSize: 2, total: 3 });
    expect((await list('initech', 2, 2)).${n.manyCamel}).toEqual([first]);
  });

  it('refuses a page larger than the paging rule allows, rather than answering a shorter one', async () => {
    expect(await failure(list('acme', 1, 101))).toEqual({
      code: GrpcStatus.INVALID_ARGUMENT,
      machineCode: 'REQUEST.INVALID_PAGE',
    });
  });

  it('refuses ${n.aOne} without a name or without a tenant, and stores nothing', async () => {
    expect(await failure(create('umbrella', ''))).toEqual({
      code: GrpcStatus.INVALID_ARGUMENT,
      machineCode: '${n.NAME}.INVALID_${n.ONE}',
    });
    expect(await failure(create('', 'nobody\\'s'))).toEqual({
      code: GrpcStatus.INVALID_ARGUMENT,
      machineCode: 'REQUEST.INVALID_TENANT',
    });
    expect((await list('umbrella', 1, 100)).page?.total).toBe(0);
  });
});
`,
);

gateway(
  `${name}.client.ts`,
  `/** Injection token of the gateway's ${name} gRPC client (\`${n.Name}ServiceClient\`). */
export const ${clientToken} = Symbol('${clientToken}');
`,
);

gateway(
  `${name}.module.ts`,
  `import { Module, type DynamicModule } from '@nestjs/common';
import { ${serviceConst} } from '${contract}';
import type { GatewayConfig } from '../config/gateway.config';
import { downstreamClientProvider, GrpcChannels } from '../downstream/downstream-client';
import { ${clientToken} } from './${name}.client';
import { ${n.Name}HttpController } from './${name}.http.controller';

/** The /api/${name} routes, served by ${name}. */
@Module({})
export class ${n.Name}Module {
  static register(config: GatewayConfig): DynamicModule {
    return {
      module: ${n.Name}Module,
      controllers: [${n.Name}HttpController],
      providers: [
        GrpcChannels,
        downstreamClientProvider(${clientToken}, {
          proto: '${n.key}',
          service: ${serviceConst},
          url: config.${urlEnv},
          deadlineMs: config.GRPC_DEADLINE_MS,
        }),
      ],
    };
  }
}
`,
);

gateway(
  `${name}.dto.ts`,
  `import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsString, Length, Min } from 'class-validator';
import { PageView } from '../http/paging.dto';

export class Create${n.One}Dto {
  @ApiProperty({ example: 'first', minLength: 1, maxLength: 100 })
  @IsString()
  @Length(1, 100)
  name!: string;
}

export class ${n.One}IdParamDto {
  @ApiProperty({ example: 1 })
  @Type(() => Number)
  @IsInt()
  @Min(1)
  id!: number;
}

export class ${n.One}View {
  @ApiProperty({ type: 'integer' }) id!: number;
  @ApiProperty() name!: string;
  @ApiProperty({ description: 'RFC 3339' }) createdAt!: string;
}

export class ${n.One}ListView extends PageView {
  @ApiProperty({ type: [${n.One}View] }) items!: ${n.One}View[];
}
`,
);

gateway(
  `${name}.http.controller.ts`,
  `import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { lastValueFrom } from 'rxjs';
import type { ${n.Name}ServiceClient } from '${contract}';
import { RequirePermissions } from '../auth/auth.guard';
import { CurrentPrincipal } from '../auth/current-principal.decorator';
import type { Principal } from '../auth/principal';
import { pageOf, PageQueryDto } from '../http/paging.dto';
import { ${clientToken} } from './${name}.client';
import { ${specifiers(`Create${n.One}Dto`, `${n.One}IdParamDto`, `${n.One}ListView`, `${n.One}View`)} } from './${name}.dto';

/** The caller's tenant's ${n.many}: another tenant's id answers 404, and lists hold only its own. */
@ApiTags('${name}')
@Controller('api/${name}/${resources}')
export class ${n.Name}HttpController {
  constructor(@Inject(${clientToken}) private readonly ${n.nameCamel}: ${n.Name}ServiceClient) {}

  @Post()
  @HttpCode(201)
  @RequirePermissions('${n.writePermission}')
  @ApiCreatedResponse({ type: ${n.One}View, description: "Stored for the caller's tenant" })
  create(@Body() body: Create${n.One}Dto, @CurrentPrincipal() principal: Principal): Promise<${n.One}View> {
    return lastValueFrom(this.${n.nameCamel}.create${n.One}({ name: body.name, tenant: principal.tenant }));
  }

  @Get()
  @RequirePermissions('${n.readPermission}')
  @ApiOkResponse({ type: ${n.One}ListView, description: 'Newest first' })
  async list(@Query() query: PageQueryDto, @CurrentPrincipal() principal: Principal): Promise<${n.One}ListView> {
    const { page, size } = pageOf(query);
    const answer = await lastValueFrom(
      this.${n.nameCamel}.list${n.Many}({ page: { page, pageSize: size }, tenant: principal.tenant }),
    );
    return { items: answer.${n.manyCamel}, page, size, total: answer.page?.total ?? 0 };
  }

  @Get(':id')
  @RequirePermissions('${n.readPermission}')
  @ApiOkResponse({ type: ${n.One}View })
  get(@Param() params: ${n.One}IdParamDto, @CurrentPrincipal() principal: Principal): Promise<${n.One}View> {
    return lastValueFrom(this.${n.nameCamel}.get${n.One}({ id: params.id, tenant: principal.tenant }));
  }
}
`,
);

files.set(
  `apps/e2e/src/${name}.e2e-spec.ts`,
  `import { startStack, type Stack } from './stack';

/** Black-box: HTTP → gateway → gRPC → ${name} → MySQL, all real processes. */
describe('/api/${name}/${resources} through the gateway', () => {
  let stack: Stack;
  /** Bearer tokens of a user of each tenant, with both permissions. */
  const bearer: Record<string, string> = {};

  beforeAll(async () => {
    stack = await startStack({ services: ['${name}'] });
    for (const tenant of ['acme', 'globex', 'initech', 'umbrella']) {
      bearer[tenant] = await stack.mintToken({ tenant, perms: ['${n.writePermission}', '${n.readPermission}'] });
    }
  }, 60_000);
  afterAll(() => stack?.stop());

  const call = (token: string | undefined, path: string, body?: unknown) =>
    stack.fetch(\`/api/${name}/${resources}\${path}\`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: {
        ...(token === undefined ? {} : { authorization: \`Bearer \${token}\` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const create = async (tenant: string, name: string) => {
    const response = await call(bearer[tenant], '', { name });
    expect(response.status).toBe(201);
    return (await response.json()) as { id: number; name: string; createdAt: string };
  };

  it('stores ${n.aOne} for the caller\\'s tenant (201) and answers it by id', async () => {
    const created = await create('acme', 'first');
    expect(created.name).toBe('first');
    const read = await call(bearer['acme'], \`/\${created.id}\`);
    expect(read.status).toBe(200);
    expect(await read.json()).toEqual(created);
  });

  it('answers 404 for another tenant\\'s ${n.one} and never lists it', async () => {
    const created = await create('acme', 'private');
    const foreign = await call(bearer['globex'], \`/\${created.id}\`);
    expect(foreign.status).toBe(404);
    expect(await foreign.json()).toMatchObject({
      error: { code: '${n.NAME}.${n.ONE}_NOT_FOUND', status: 'NOT_FOUND' },
    });
    expect(await (await call(bearer['globex'], '?size=100')).json()).toMatchObject({ items: [], total: 0 });
  });

  it('pages the tenant\\'s ${n.many}, newest first, with the total', async () => {
    const first = await create('initech', 'one');
    const second = await create('initech', 'two');
    const third = await create('initech', 'three');
    const page1 = await call(bearer['initech'], '?page=1&size=2');
    expect(page1.status).toBe(200);
    expect(await page1.json()).toEqual({ items: [third, second], page: 1, size: 2, total: 3 });
    expect(await (await call(bearer['initech'], '?page=2&size=2')).json()).toMatchObject({ items: [first] });
  });

  it('refuses bad input with 400 and stores nothing', async () => {
    for (const body of [{}, { name: '' }, { name: 'x'.repeat(101) }, { name: 'ok', owner: 'someone' }]) {
      const response = await call(bearer['umbrella'], '', body);
      expect({ body, status: response.status }).toEqual({ body, status: 400 });
    }
    expect((await call(bearer['umbrella'], '?size=101')).status).toBe(400);
    expect((await call(bearer['umbrella'], '/0')).status).toBe(400);
    expect(await (await call(bearer['umbrella'], '?size=100')).json()).toMatchObject({ total: 0 });
  });

  it('refuses a caller without a token (401) or without the route\\'s permission (403)', async () => {
    expect((await call(undefined, '', { name: 'x' })).status).toBe(401);
    const reader = await stack.mintToken({ tenant: 'acme', perms: ['${n.readPermission}'] });
    expect((await call(reader, '', { name: 'x' })).status).toBe(403);
    expect((await call(reader, '?size=1')).status).toBe(200);
  });
});
`,
);

// --- What it inserts into existing files: right after each anchor -----------------------------

const read = (path) => readFileSync(join(root, path), 'utf8');
const registry = read('libs/registry/src/processes.ts');
const gatewayConfig = read('apps/gateway/src/config/gateway.config.ts');
const protos = read('libs/contracts/src/proto-files.ts');
const permissions = read('apps/gateway/src/auth/principal.ts');
/** `npm start`'s prefix colour: the first of these no process of the registry uses yet. */
const logColour =
  [
    'blue',
    'green',
    'red',
    'white',
    'blueBright',
    'greenBright',
    'redBright',
    'magentaBright',
    'cyanBright',
  ].find((colour) => !registry.includes(`color: '${colour}'`)) ?? 'white';

/** The anchor comment `// new-service: <id>` on its own line: the insertion goes on the next line. */
const below = (id) => `// new-service: ${id}\n`;
const insertions = [
  {
    file: 'libs/contracts/src/proto-files.ts',
    anchor: below('service protos'),
    text: `  ${n.key}: { package: '${n.key}.v1', file: '${n.key}/v1/${n.key}.proto', definition: ${n.Name}ServiceDefinition },\n`,
  },
  {
    file: 'libs/contracts/src/proto-files.ts',
    anchor: below('service definitions'),
    text: `import { ${n.Name}ServiceDefinition } from './generated/${n.key}/v1/${n.key}';\n`,
  },
  {
    file: 'libs/registry/src/processes.ts',
    anchor: below('processes'),
    text: `  {
    name: '${name}',
    entry: 'apps/${name}/src/main.ts',
    app: '${name}',
    ports: { grpc: { env: 'GRPC_PORT', port: ${grpcPort} }, ops: { env: 'OPS_PORT', port: ${opsPort} } },
    hostEnv: GRPC_SERVICE_HOSTS,
    ...OPS_ENDPOINTS,
    database: { name: '${n.database}', env: 'DB_NAME' },
    nats: false,
    downstream: [],
    secrets: SERVICE_SECRETS,
    scaling: WORKER_SCALING,
    color: '${logColour}',
  },
`,
  },
  {
    file: 'libs/registry/src/processes.ts',
    anchor: below('gateway downstream'),
    text: `      { process: '${name}', env: '${urlEnv}', via: 'grpc' },\n`,
  },
  {
    file: 'apps/gateway/src/app.module.ts',
    anchor: below('gateway module imports'),
    text: `import { ${n.Name}Module } from './${name}/${name}.module';\n`,
  },
  {
    file: 'apps/gateway/src/app.module.ts',
    anchor: below('gateway modules'),
    text: `        ${n.Name}Module.register(config),\n`,
  },
  {
    file: 'apps/gateway/src/config/gateway.config.ts',
    anchor: below('downstream addresses'),
    text: `    ${urlEnv}: env.string('127.0.0.1:${grpcPort}'),\n`,
  },
  {
    file: 'apps/gateway/src/auth/principal.ts',
    anchor: below('permissions'),
    text: `  '${n.writePermission}',\n  '${n.readPermission}',\n`,
  },
  {
    // JSON has no comments: the list itself is the anchor. The e2e project depends on every app
    // its specs start, so \`nx affected\` runs them when the app changes.
    file: 'apps/e2e/project.json',
    anchor: '"implicitDependencies": [',
    text: `"${name}", `,
  },
  // The authorization matrix (generated from the OpenAPI document) fails until each route of
  // the document has a fixture: its own lines are the anchors.
  {
    file: 'apps/e2e/src/authorization-matrix.e2e-spec.ts',
    anchor: 'const PERMS = [',
    text: `'${n.writePermission}', '${n.readPermission}', `,
  },
  {
    file: 'apps/e2e/src/authorization-matrix.e2e-spec.ts',
    anchor: 'await startStack({ services: [',
    text: `'${name}', `,
  },
  {
    file: 'apps/e2e/src/authorization-matrix.e2e-spec.ts',
    anchor: 'const ID_FIXTURES: Record<string, IdFixture> = {\n',
    text: `    'GET /api/${name}/${resources}/{id}': {
      scope: 'tenant',
      create: async () => String((await json('owner', 'post', '/api/${name}/${resources}', { name: 'matrix' }))['id']),
      ok: 200,
      observe: (id) => json('owner', 'get', \`/api/${name}/${resources}/\${id}\`),
    },
`,
  },
  {
    file: 'apps/e2e/src/authorization-matrix.e2e-spec.ts',
    anchor: 'const LIST_FIXTURES: Record<string, ListFixture> = {\n',
    text: `    'GET /api/${name}/${resources}': { scope: 'tenant', query: '?size=100', rows: (body) => ids((body as Json)['items']) },\n`,
  },
];

// --- Refuse what exists or collides, check every anchor, then write ---------------------------

const problems = [];

// Every file it writes is one of these or inside one of them.
for (const path of [
  `apps/${name}`,
  `apps/gateway/src/${name}`,
  `apps/e2e/src/${name}.e2e-spec.ts`,
  `proto/${n.key}`,
  `libs/contracts/src/generated/${n.key}`,
]) {
  if (existsSync(join(root, path))) problems.push(`${path} exists already`);
}
if (new RegExp(`^\\s*${n.key}: \\{`, 'm').test(protos))
  problems.push(`SERVICE_PROTOS has a proto named ${n.key}`);
if (registry.includes(`name: '${name}'`)) problems.push(`the registry has a process named ${name}`);
if (registry.includes(`'${n.database}'`))
  problems.push(`the registry has a database named ${n.database}`);
if (gatewayConfig.includes(`${urlEnv}:`)) problems.push(`the gateway's config has ${urlEnv}`);
for (const permission of [n.writePermission, n.readPermission]) {
  if (permissions.includes(`'${permission}'`))
    problems.push(`the gateway has a permission ${permission}`);
}
// Ports of the registry's processes, and the default addresses of the gateway's services (a
// service that is not in the registry yet may already have its address).
const taken = new Set([
  ...[...registry.matchAll(/\bport: (\d+)/g)].map((m) => Number(m[1])),
  ...[...gatewayConfig.matchAll(/'127\.0\.0\.1:(\d+)'/g)].map((m) => Number(m[1])),
]);
for (const [flag, value] of [
  ['grpc-port', grpcPort],
  ['ops-port', opsPort],
]) {
  if (taken.has(value)) problems.push(`--${flag} ${value} is taken by another process`);
}

const edited = new Map();
for (const { file, anchor, text } of insertions) {
  const current = edited.get(file) ?? read(file);
  const found = current.split(anchor).length - 1;
  if (found !== 1) {
    problems.push(`${file}: needs ${JSON.stringify(anchor.trim())} exactly once (found ${found})`);
    continue;
  }
  if (current.includes(text)) {
    problems.push(`${file}: already has ${JSON.stringify(text.trim().split('\n')[0])}`);
    continue;
  }
  const at = current.indexOf(anchor) + anchor.length;
  edited.set(file, current.slice(0, at) + text + current.slice(at));
}

if (problems.length > 0) fail(`Nothing was written:\n  ${problems.join('\n  ')}`);

for (const [path, content] of files) {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), content);
}
for (const [path, content] of edited) writeFileSync(join(root, path), content);

const run = (command, args) => {
  try {
    execFileSync(command, args, { cwd: root, stdio: 'inherit' });
  } catch {
    fail(`${name} is written, but '${command} ${args.join(' ')}' failed: fix what it says, then run
'npm run gen:proto && npm run gen:deploy'.`);
  }
};
const written = [...files.keys()].filter((path) => path.endsWith('.ts'));
run('npx', ['--no-install', 'prettier', '--log-level', 'warn', '--write', ...written]);
run('npm', ['run', '--silent', 'gen:proto']);
run('npm', ['run', '--silent', 'gen:deploy']);

console.log(`
${name} is scaffolded: proto/${n.key}, apps/${name}, apps/gateway/src/${name}, its registry entry and
the generated contracts and deployment files. See it work:
  npx jest apps/${name}
  npx jest -c apps/e2e/jest.config.js apps/e2e/src/${name}.e2e-spec.ts
What is left to you:
  - the service's real use cases in place of ${n.many} (proto, apps/${name}/src, the gateway module),
    with a new migration for every schema change;
  - README.md: its routes (API overview), ${urlEnv} and its GRPC_PORT/OPS_PORT/DB_NAME
    (${grpcPort}/${opsPort}/${n.database}) in the configuration table;
  - apps/e2e/src/authorization-matrix.e2e-spec.ts: a fixture for each route you add (the matrix
    fails until every documented route has one; the example's routes have theirs);
  - what it calls: the registry entry's downstream (keep it after them in PROCESSES), and the
    messaging module with an outbox if it announces changes (see apps/token-manager).`);
