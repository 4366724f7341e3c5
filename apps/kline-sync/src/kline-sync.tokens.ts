/** Injection tokens of the kline-sync service. */
export const KLINE_SYNC_CONFIG = Symbol('KLINE_SYNC_CONFIG');
export const TOKEN_MANAGER_CLIENT = Symbol('TOKEN_MANAGER_CLIENT');
