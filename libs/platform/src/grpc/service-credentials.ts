import { errors, jwtVerify, SignJWT } from 'jose';
import { DomainError } from '../errors';

/**
 * Local-only secret so `npm start` and the tests work without setup; a deployment sets
 * SERVICE_AUTH_SECRET, the same for all of its services and its gateway.
 */
export const DEVELOPMENT_SERVICE_AUTH_SECRET = 'batchgate-local-development-service-secret-change-me';
/** gRPC metadata key of the credential. */
export const SERVICE_CREDENTIAL_HEADER = 'authorization';

const AUDIENCE = 'batchgate-services';
const LIFETIME_SECONDS = 600;
/** A credential is renewed this long before it expires, so none expires in flight. */
const RENEW_BEFORE_MS = 120_000;
/** Verified credentials remembered (each service renews its own every few minutes). */
const VERIFIED_REMEMBERED = 1_000;

const unauthenticated = (message: string) => new DomainError('unauthenticated', 'SERVICE.UNAUTHENTICATED', message);

/**
 * The signed service credential of SPEC §2.7: services accept gRPC calls only from peers that
 * hold the deployment's secret. Each caller sends a short-lived HS256 JWT naming itself (`sub`),
 * minted with jose and renewed before it expires; each server verifies it (signature, audience,
 * expiry) and remembers credentials it has verified, so a call costs a map lookup.
 */
export class ServiceCredentials {
  private readonly key: Uint8Array;
  private current: { token: Promise<string>; renewAt: number; value: string | undefined } | undefined;
  private readonly verified = new Map<string, { caller: string; expiresAt: number }>();

  constructor(
    private readonly serviceName: string,
    secret: string,
  ) {
    if (secret.length < 32) throw new RangeError('the service auth secret must have at least 32 characters');
    this.key = new TextEncoder().encode(secret);
  }

  /** This service's credential for its outgoing calls. */
  token(): Promise<string> {
    const now = Date.now();
    if (!this.current || now >= this.current.renewAt) {
      const token = new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(this.serviceName)
        .setAudience(AUDIENCE)
        .setIssuedAt()
        .setExpirationTime(Math.floor(now / 1_000) + LIFETIME_SECONDS)
        .sign(this.key);
      const current = { token, renewAt: now + LIFETIME_SECONDS * 1_000 - RENEW_BEFORE_MS, value: undefined as string | undefined };
      this.current = current;
      token.then(
        (value) => (current.value = value),
        () => (this.current = undefined),
      );
    }
    return this.current.token;
  }

  /**
   * The credential when it is signed and not due for renewal, else undefined (then `token()`):
   * lets a call start in the same tick instead of a microtask later.
   */
  readyToken(): string | undefined {
    const current = this.current;
    return current?.value !== undefined && Date.now() < current.renewAt ? current.value : undefined;
  }

  /** The calling service's name when this credential was verified before and has not expired, else undefined (then `verify`). */
  knownCaller(header: unknown): string | undefined {
    if (typeof header !== 'string' || !header.startsWith('Bearer ')) return undefined;
    const known = this.verified.get(header.slice('Bearer '.length));
    return known && known.expiresAt > Date.now() ? known.caller : undefined;
  }

  /** The calling service's name; a missing, forged or expired credential is UNAUTHENTICATED. */
  async verify(header: unknown): Promise<string> {
    if (typeof header !== 'string' || !header.startsWith('Bearer ')) throw unauthenticated('Missing service credential');
    const known = this.knownCaller(header);
    if (known !== undefined) return known;
    const token = header.slice('Bearer '.length);
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'], audience: AUDIENCE, requiredClaims: ['exp', 'sub'] });
      const caller = String(payload.sub);
      if (this.verified.size >= VERIFIED_REMEMBERED) this.verified.clear();
      this.verified.set(token, { caller, expiresAt: (payload.exp ?? 0) * 1_000 });
      return caller;
    } catch (error) {
      throw unauthenticated(error instanceof errors.JWTExpired ? 'Service credential has expired' : 'Service credential is not valid');
    }
  }
}
