/** Injection tokens of the gateway's offline gRPC clients (`OfflineServiceClient`). */
export const OFFLINE_CLIENT = Symbol('OFFLINE_CLIENT');
/** offline with GRPC_LONG_DEADLINE_MS: a synchronous batch answers when its products are de-listed. */
export const OFFLINE_LONG_CLIENT = Symbol('OFFLINE_LONG_CLIENT');
/** offline with GRPC_STREAM_DEADLINE_MS, for the batch's event stream. */
export const OFFLINE_STREAM_CLIENT = Symbol('OFFLINE_STREAM_CLIENT');
