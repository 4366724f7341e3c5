import { errors, importSPKI, jwtVerify, type JWTPayload, type CryptoKey } from 'jose';
import { DomainError } from '@batchgate/platform/errors';
import type { GatewayConfig } from '../config/gateway.config';
import type { Principal } from './principal';

/*
 * Claims are bounded here, at the edge, so that no service sees an identity its columns cannot
 * hold (tenant VARCHAR(64), user_id VARCHAR(128)) or a character that needs escaping in a log,
 * a metric label or a rate-limit key.
 */
const SUBJECT = /^[A-Za-z0-9._@:|+=~-]{1,128}$/;
const TENANT = /^[A-Za-z0-9._-]{1,64}$/;
/** `area:action` words, e.g. `stock:sync:run`; names of permissions other services check are accepted too. */
const PERMISSION = /^[a-z][a-z0-9_-]{0,31}(?::[a-z0-9_*-]{1,32}){0,4}$/;
const MAX_PERMISSIONS = 64;

const unauthenticated = (message: string) => new DomainError('unauthenticated', 'AUTH.UNAUTHENTICATED', message);

/**
 * Verifies bearer tokens with jose. `exp` and `sub` are required (jose accepts a token without
 * `exp` unless told otherwise); HS256 uses the shared secret, other algorithms the public key.
 */
export class JwtVerifier {
  private constructor(
    private readonly key: CryptoKey | Uint8Array,
    private readonly config: GatewayConfig,
  ) {}

  static async create(config: GatewayConfig): Promise<JwtVerifier> {
    const key =
      config.JWT_ALGORITHM === 'HS256'
        ? new TextEncoder().encode(config.JWT_SECRET)
        : await importSPKI(config.JWT_PUBLIC_KEY, config.JWT_ALGORITHM);
    return new JwtVerifier(key, config);
  }

  async verify(authorization: string | undefined): Promise<Principal> {
    if (!authorization) throw unauthenticated('Missing Authorization header (expected "Bearer <token>")');
    const match = /^Bearer\s+(\S+)$/i.exec(authorization);
    if (!match?.[1]) throw unauthenticated('Authorization header must be "Bearer <token>"');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(match[1], this.key, {
        algorithms: [this.config.JWT_ALGORITHM],
        requiredClaims: ['exp', 'sub'],
        issuer: this.config.JWT_ISSUER || undefined,
        audience: this.config.JWT_AUDIENCE || undefined,
        clockTolerance: 5,
      }));
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw unauthenticated('Token has expired');
      throw unauthenticated('Token is not valid');
    }
    const { sub, tenant, perms } = payload as JWTPayload & { tenant?: unknown; perms?: unknown };
    if (typeof sub !== 'string' || !SUBJECT.test(sub)) {
      throw unauthenticated('Token claim "sub" must be 1-128 letters, digits or any of . _ - @ : | + = ~');
    }
    if (typeof tenant !== 'string' || !TENANT.test(tenant)) {
      throw unauthenticated('Token claim "tenant" must be 1-64 letters, digits, ".", "_" or "-"');
    }
    if (!Array.isArray(perms) || perms.length > MAX_PERMISSIONS || !perms.every((p) => typeof p === 'string' && PERMISSION.test(p))) {
      throw unauthenticated(`Token claim "perms" must be an array of at most ${MAX_PERMISSIONS} permissions such as "stock:sync:run"`);
    }
    return { sub, tenant, perms };
  }
}
