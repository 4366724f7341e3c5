import { join } from 'node:path';
import { loadPackageDefinition, type ServiceClientConstructor, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

/** The anchor's contract, loaded with the same options shape the product uses (numbers for int64). */
export function anchorService(): ServiceClientConstructor & { service: ServiceDefinition } {
  const definition = loadSync(join(__dirname, 'anchor.proto'), { keepCase: false, longs: Number, defaults: true });
  const root = loadPackageDefinition(definition) as unknown as { anchor: { v1: { AnchorService: ServiceClientConstructor } } };
  return root.anchor.v1.AnchorService;
}
