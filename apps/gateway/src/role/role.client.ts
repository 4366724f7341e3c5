/** Injection token of the gateway's role gRPC client (`RoleServiceClient`). */
export const ROLE_CLIENT = Symbol('ROLE_CLIENT');
