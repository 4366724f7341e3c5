import { loadSync, type MethodDefinition, type PackageDefinition } from '@grpc/proto-loader';
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

/** A generated message codec (ts-proto's `MessageFns`), as much of it as a serializer uses. */
interface MessageCodec {
  encode(message: never): { finish(): Uint8Array };
  fromPartial(object: never): unknown;
}

const definitions = new Map<ServiceProtoName, PackageDefinition>();

/**
 * The package definition a service's gRPC client and server are given: proto-loader's (the
 * methods' paths, and the decoded shapes the services and the gateway read: every field present,
 * defaults for unset ones, unset messages null), with each method's two serializers replaced by
 * the generated encoders of its messages. proto-loader encodes through protobufjs's `fromObject`
 * and `encode`: 41-46 µs for a page of 20 tokens, about twice the generated encoder
 * (bench/gateway/README.md, sections 35 and 38).
 * The generated `fromPartial` runs first and turns null and missing fields into their defaults,
 * as `fromObject` does: the generated `encode` alone would write a null string as "null" and
 * throw on a null number. Decoding stays proto-loader's, because ts-proto's decoder leaves an
 * unset message undefined where proto-loader's is null, and the gateway passes kline-sync's
 * messages through to its answers as they are. Loaded once per proto and process.
 */
export function packageDefinitionOf(proto: ServiceProtoName): PackageDefinition {
  const known = definitions.get(proto);
  if (known) return known;
  const loaded = loadSync(protoPathOf(proto), protoLoaderOptions());
  const { definition } = SERVICE_PROTOS[proto];
  const service = loaded[definition.fullName] as Record<string, MethodDefinition<object, object>> | undefined;
  if (!service) throw new Error(`${SERVICE_PROTOS[proto].file} declares no service ${definition.fullName}`);
  const generated = new Map<string, { requestType: MessageCodec; responseType: MessageCodec }>(
    Object.values(definition.methods).map((method) => [method.name, method as unknown as { requestType: MessageCodec; responseType: MessageCodec }]),
  );
  const methods = Object.entries(service).map(([name, method]) => {
    const codecs = generated.get(name);
    if (!codecs) throw new Error(`The generated ${definition.fullName} has no method ${name}: run npm run gen:proto`);
    return [name, { ...method, requestSerialize: serializerOf(codecs.requestType), responseSerialize: serializerOf(codecs.responseType) }] as const;
  });
  const withEncoders: PackageDefinition = { ...loaded, [definition.fullName]: Object.fromEntries(methods) };
  definitions.set(proto, withEncoders);
  return withEncoders;
}

/** A grpc-js serializer of the generated codec: its bytes as a Buffer over the same memory (grpc-js copies it into the frame). */
function serializerOf(codec: MessageCodec): (value: object) => Buffer {
  return (value) => {
    const bytes = codec.encode(codec.fromPartial(value as never) as never).finish();
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}
