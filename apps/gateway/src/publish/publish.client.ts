/** Injection tokens of the gateway's publish gRPC clients (`PublishServiceClient`). */
export const PUBLISH_CLIENT = Symbol('PUBLISH_CLIENT');
/** publish with GRPC_STREAM_DEADLINE_MS, for the watch streams behind the event-stream routes. */
export const PUBLISH_STREAM_CLIENT = Symbol('PUBLISH_STREAM_CLIENT');
/** publish with GRPC_LONG_DEADLINE_MS, for calls that reach the platform before answering (interaction fetching). */
export const PUBLISH_LONG_CLIENT = Symbol('PUBLISH_LONG_CLIENT');
