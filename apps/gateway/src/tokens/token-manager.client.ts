/** Injection token of the gateway's token-manager gRPC client (`TokenManagerServiceClient`). */
export const TOKEN_MANAGER_CLIENT = Symbol('TOKEN_MANAGER_CLIENT');
