/** Injection tokens of the gateway's role gRPC clients (`RoleServiceClient`). */
export const ROLE_CLIENT = Symbol('ROLE_CLIENT');
/** role with GRPC_STREAM_DEADLINE_MS, for the server streams behind event streams. */
export const ROLE_STREAM_CLIENT = Symbol('ROLE_STREAM_CLIENT');
