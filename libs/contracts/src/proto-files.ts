import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * The folder holding the `.proto` files. At run time gRPC loads the contracts from the `.proto`
 * sources (ts-proto's NestJS output is types and decorators only), so a deployment ships `proto/`
 * and may point `PROTO_DIR` at it.
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

/** Per service: its gRPC package name and proto file (relative to `protoDir()`). */
export const SERVICE_PROTOS = {
  // new-service: service protos
  tokens: { package: 'tokens.v1', file: 'tokens/v1/tokens.proto' },
  klinesync: { package: 'klinesync.v1', file: 'klinesync/v1/klinesync.proto' },
  offline: { package: 'offline.v1', file: 'offline/v1/offline.proto' },
  role: { package: 'role.v1', file: 'role/v1/role.proto' },
  publish: { package: 'publish.v1', file: 'publish/v1/publish.proto' },
} as const;

export type ServiceProtoName = keyof typeof SERVICE_PROTOS;
