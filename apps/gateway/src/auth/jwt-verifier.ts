import { errors, importSPKI, jwtVerify, type JWTPayload, type CryptoKey } from 'jose';
import { DomainError } from '@batchgate/platform/errors';
import type { GatewayConfig } from '../config/gateway.config';
import type { Principal } from './principal';

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
    if (typeof sub !== 'string' || sub === '') throw unauthenticated('Token has no subject');
    if (typeof tenant !== 'string' || tenant === '') throw unauthenticated('Token has no tenant claim');
    if (!Array.isArray(perms) || !perms.every((p) => typeof p === 'string')) {
      throw unauthenticated('Token claim "perms" must be an array of strings');
    }
    return { sub, tenant, perms };
  }
}
