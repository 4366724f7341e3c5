import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
// new-service: service definitions
import { TokenManagerServiceDefinition } from './generated/tokens/v1/tokens';
import { KlineSyncServiceDefinition } from './generated/klinesync/v1/klinesync';
import { OfflineServiceDefinition } from './generated/offline/v1/offline';
import { RoleServiceDefinition } from './generated/role/v1/role';
import { PublishServiceDefinition } from './generated/publish/v1/publish';

/**
 * The folder holding the `.proto` files. At run time gRPC loads the services' methods from the
 * `.proto` sources (Nest's gRPC transport takes a proto-loader package definition), so a
 * deployment ships `proto/` and may point `PROTO_DIR` at it.
 */
export function protoDir(): string {
  const fromEnv = process.env['PROTO_DIR'];
  if (fromEnv) return resolve(fromEnv);
  // Walk up from this file: works from the source tree and from a build under dist/.
  let dir = __dirname;
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, 'common', 'v1', 'common.proto'))) return candidate;
    dir = resolve(dir, '..');
  }
  throw new Error('Cannot find the proto/ folder; set PROTO_DIR');
}

/**
 * Per service: its gRPC package name, proto file (relative to `protoDir()`), and the generated
 * definition of its service (ts-proto's `generic-definitions`: each method's request and response
 * codecs, which encode the messages on the wire; see libs/platform/src/grpc/proto-loader-options.ts).
 */
export const SERVICE_PROTOS = {
  // new-service: service protos
  tokens: { package: 'tokens.v1', file: 'tokens/v1/tokens.proto', definition: TokenManagerServiceDefinition },
  klinesync: { package: 'klinesync.v1', file: 'klinesync/v1/klinesync.proto', definition: KlineSyncServiceDefinition },
  offline: { package: 'offline.v1', file: 'offline/v1/offline.proto', definition: OfflineServiceDefinition },
  role: { package: 'role.v1', file: 'role/v1/role.proto', definition: RoleServiceDefinition },
  publish: { package: 'publish.v1', file: 'publish/v1/publish.proto', definition: PublishServiceDefinition },
} as const;

export type ServiceProtoName = keyof typeof SERVICE_PROTOS;
