/** Injection tokens of the kline-sync service. */
export const TOKEN_MANAGER_CLIENT = Symbol('TOKEN_MANAGER_CLIENT');
/** The job kit's store of sync jobs (SyncJobStore). */
export const SYNC_JOB_STORE = Symbol('SYNC_JOB_STORE');
