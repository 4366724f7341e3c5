/** Injection tokens of the kline-sync service. */
export const TOKEN_MANAGER_CLIENT = Symbol('TOKEN_MANAGER_CLIENT');
