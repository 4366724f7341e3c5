/** Injection token of the process's pino logger. */
export const LOGGER = Symbol('LOGGER');

/**
 * Injection token of the service's whole validated config (the object its zod schema parsed at
 * start-up), provided by `startGrpcService`. A provider injects it with the service's config
 * type, e.g. `@Inject(SERVICE_CONFIG) config: KlineSyncConfig`, and reads the fields it needs.
 */
export const SERVICE_CONFIG = Symbol('SERVICE_CONFIG');
