import { LRUCache } from 'lru-cache';
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

const BEARER = /^Bearer\s+(\S+)$/i;

const unauthenticated = (message: string) => new DomainError('unauthenticated', 'AUTH.UNAUTHENTICATED', message);

/**
 * Verifies bearer tokens with jose. `exp` and `sub` are required (jose accepts a token without
 * `exp` unless told otherwise); HS256 uses the shared secret, other algorithms the public key.
 *
 * A client sends the same token with every request until it expires, and checking its signature
 * and claims again each time was a tenth of the gateway's CPU: a verified token's principal is
 * kept (bounded LRU, keyed by the token itself) until the token's `exp`, never longer. Only
 * accepted tokens are kept; a refused one is checked again each time.
 */
export class JwtVerifier {
  private readonly verified: LRUCache<string, Principal>;

  private constructor(
    private readonly key: CryptoKey | Uint8Array,
    private readonly config: GatewayConfig,
  ) {
    // Date as the cache's clock: entries expire on the same (wall) clock as the tokens' `exp`.
    this.verified = new LRUCache({ max: config.JWT_CACHE_MAX_ENTRIES, perf: Date });
  }

  static async create(config: GatewayConfig): Promise<JwtVerifier> {
    const key =
      config.JWT_ALGORITHM === 'HS256'
        ? new TextEncoder().encode(config.JWT_SECRET)
        : await importSPKI(config.JWT_PUBLIC_KEY, config.JWT_ALGORITHM);
    return new JwtVerifier(key, config);
  }

  /**
   * The principal of a token this verifier accepted before and that has not expired yet, at once
   * (no promise); undefined for anything else, which {@link verify} then checks.
   */
  knownPrincipal(authorization: string | undefined): Principal | undefined {
    const token = authorization ? BEARER.exec(authorization)?.[1] : undefined;
    return token ? this.verified.get(token) : undefined;
  }

  async verify(authorization: string | undefined): Promise<Principal> {
    if (!authorization) throw unauthenticated('Missing Authorization header (expected "Bearer <token>")');
    const match = BEARER.exec(authorization);
    const token = match?.[1];
    if (!token) throw unauthenticated('Authorization header must be "Bearer <token>"');
    const cached = this.verified.get(token);
    if (cached) return cached;
    const { principal, expiresAtMs } = await this.verifyToken(token);
    const lifetimeMs = expiresAtMs - Date.now();
    if (lifetimeMs > 0) this.verified.set(token, principal, { ttl: lifetimeMs });
    return principal;
  }

  private async verifyToken(token: string): Promise<{ principal: Principal; expiresAtMs: number }> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.key, {
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
    const { sub, tenant, perms, exp } = payload as JWTPayload & { tenant?: unknown; perms?: unknown };
    if (typeof sub !== 'string' || !SUBJECT.test(sub)) {
      throw unauthenticated('Token claim "sub" must be 1-128 letters, digits or any of . _ - @ : | + = ~');
    }
    if (typeof tenant !== 'string' || !TENANT.test(tenant)) {
      throw unauthenticated('Token claim "tenant" must be 1-64 letters, digits, ".", "_" or "-"');
    }
    if (!Array.isArray(perms) || perms.length > MAX_PERMISSIONS || !perms.every((p) => typeof p === 'string' && PERMISSION.test(p))) {
      throw unauthenticated(`Token claim "perms" must be an array of at most ${MAX_PERMISSIONS} permissions such as "stock:sync:run"`);
    }
    // A cached principal is shared by the requests that present the token: frozen, so none can change it for the others.
    const principal: Principal = Object.freeze({ sub, tenant, perms: Object.freeze([...(perms as string[])]) });
    return { principal, expiresAtMs: (exp ?? 0) * 1_000 };
  }
}
