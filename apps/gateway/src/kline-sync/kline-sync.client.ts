/** Injection tokens of the gateway's kline-sync gRPC clients (`KlineSyncServiceClient`). */
export const KLINE_SYNC_CLIENT = Symbol('KLINE_SYNC_CLIENT');
/** kline-sync with GRPC_LONG_DEADLINE_MS, for calls that pull from the provider before answering. */
export const KLINE_SYNC_LONG_CLIENT = Symbol('KLINE_SYNC_LONG_CLIENT');
