/** The authenticated caller, from the JWT claims `sub`, `tenant` and `perms`. */
export interface Principal {
  readonly sub: string;
  readonly tenant: string;
  readonly perms: readonly string[];
}

/** Permissions checked by routes (SPEC §7). */
export const PERMISSIONS = [
  // new-service: permissions
  'tokens:admin',
  'stock:sync:run',
  'stock:sync:retry',
  'stock:sync:list',
  'role:create',
  'role:list',
  'post:generate',
  'offline:run',
  'offline:admin',
  'publish:run',
  'publish:list',
] as const;
export type Permission = (typeof PERMISSIONS)[number];
