import { protoDir, SERVICE_PROTOS, type ServiceProtoName } from '@batchgate/contracts';
import { join } from 'node:path';

/**
 * The one set of @grpc/proto-loader options, matching the shapes ts-proto declares
 * (`nestJs=true`, default `forceLong=number`): int64 as number, enums as numbers, empty repeated
 * fields as [] (not undefined), unset messages as objects with defaults.
 */
export function protoLoaderOptions() {
  return {
    keepCase: false,
    longs: Number,
    enums: Number,
    defaults: true,
    arrays: true,
    objects: true,
    oneofs: true,
    includeDirs: [protoDir()],
  };
}

export function protoPathOf(service: ServiceProtoName): string {
  return join(protoDir(), SERVICE_PROTOS[service].file);
}
