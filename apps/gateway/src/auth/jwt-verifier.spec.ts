import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { loadConfig } from '@batchgate/platform/config';
import { DomainError } from '@batchgate/platform/errors';
import { gatewayConfigSchema } from '../config/gateway.config';
import { JwtVerifier } from './jwt-verifier';

const SECRET = 'unit-test-secret-that-is-long-enough-000000';
const hs256 = (claims: Record<string, unknown>, exp: string | null = '5m', secret = SECRET) => {
  let jwt = new SignJWT({ sub: 'alice', ...claims }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt();
  if (exp) jwt = jwt.setExpirationTime(exp);
  return jwt.sign(new TextEncoder().encode(secret));
};

async function rejection(promise: Promise<unknown>): Promise<DomainError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(DomainError);
  return error as DomainError;
}

describe('JwtVerifier', () => {
  const config = loadConfig(gatewayConfigSchema, { JWT_SECRET: SECRET });

  it('accepts a valid HS256 token and returns the principal', async () => {
    const verifier = await JwtVerifier.create(config);
    const token = await hs256({ tenant: 'acme', perms: ['tokens:admin'] });
    expect(await verifier.verify(`Bearer ${token}`)).toEqual({ sub: 'alice', tenant: 'acme', perms: ['tokens:admin'] });
  });

  it.each([
    ['no header', undefined],
    ['wrong scheme', 'Basic abc'],
    ['garbage', 'Bearer not.a.jwt'],
  ])('rejects %s as unauthenticated', async (_name, header) => {
    const verifier = await JwtVerifier.create(config);
    expect((await rejection(verifier.verify(header))).kind).toBe('unauthenticated');
  });

  it('rejects tokens without exp, expired, signed with another key, or missing claims', async () => {
    const verifier = await JwtVerifier.create(config);
    const cases = [
      await hs256({ tenant: 'acme', perms: [] }, null),
      await hs256({ tenant: 'acme', perms: [] }, '-1m'),
      await hs256({ tenant: 'acme', perms: [] }, '5m', 'another-secret-that-is-long-enough-11111'),
      await hs256({ perms: [] }),
      await hs256({ tenant: 'acme', perms: 'tokens:admin' }),
    ];
    for (const token of cases) {
      expect((await rejection(verifier.verify(`Bearer ${token}`))).code).toBe('AUTH.UNAUTHENTICATED');
    }
  });

  it('bounds the claims that become stored identities and keys: sub, tenant and perms', async () => {
    const verifier = await JwtVerifier.create(config);
    const refused = async (claims: Record<string, unknown>, pattern: string) => {
      const error = await rejection(verifier.verify(`Bearer ${await hs256(claims)}`));
      expect(error.code).toBe('AUTH.UNAUTHENTICATED');
      expect(error.message).toContain(pattern);
    };
    await refused({ tenant: 'x'.repeat(65), perms: [] }, '"tenant"');
    await refused({ tenant: 'acme corp', perms: [] }, '"tenant"');
    await refused({ tenant: 'acmé', perms: [] }, '"tenant"');
    await refused({ tenant: 7, perms: [] }, '"tenant"');
    await refused({ tenant: 'acme', sub: 'x'.repeat(129), perms: [] }, '"sub"');
    await refused({ tenant: 'acme', sub: 'bob\u0000', perms: [] }, '"sub"');
    await refused({ tenant: 'acme', perms: ['tokens:admin', 'Tokens Admin'] }, '"perms"');
    await refused({ tenant: 'acme', perms: [1] }, '"perms"');
    await refused({ tenant: 'acme', perms: Array.from({ length: 65 }, (_, i) => `p${i}:run`) }, '"perms"');

    const longest = { sub: 'u'.repeat(128), tenant: 't'.repeat(64), perms: Array.from({ length: 64 }, (_, i) => `area${i}:run`) };
    expect(await verifier.verify(`Bearer ${await hs256(longest)}`)).toEqual(longest);
    const email = await hs256({ sub: 'auth0|alice.smith+ops@example.com', tenant: 'acme-2.eu_west', perms: ['offline:admin'] });
    expect((await verifier.verify(`Bearer ${email}`)).sub).toBe('auth0|alice.smith+ops@example.com');
  });

  describe('cache of verified tokens', () => {
    afterEach(() => jest.useRealTimers());
    const spyOnVerification = (verifier: JwtVerifier) =>
      jest.spyOn(verifier as unknown as { verifyToken: (token: string) => Promise<unknown> }, 'verifyToken');

    it('verifies a token once and answers its later uses from the cache, as the same frozen principal', async () => {
      const verifier = await JwtVerifier.create(config);
      const verification = spyOnVerification(verifier);
      const header = `Bearer ${await hs256({ tenant: 'acme', perms: ['tokens:admin'] })}`;
      const first = await verifier.verify(header);
      expect(await verifier.verify(header)).toBe(first);
      expect(await verifier.verify(header.replace('Bearer', 'bearer'))).toBe(first);
      expect(verification).toHaveBeenCalledTimes(1);
      expect(Object.isFrozen(first) && Object.isFrozen(first.perms)).toBe(true);
    });

    it('never answers from the cache past the token\'s exp', async () => {
      jest.useFakeTimers({ now: new Date('2026-12-01T10:00:00Z') });
      const verifier = await JwtVerifier.create(config);
      const verification = spyOnVerification(verifier);
      const header = `Bearer ${await hs256({ tenant: 'acme', perms: [] }, '60s')}`;
      await verifier.verify(header);
      jest.advanceTimersByTime(59_000);
      await verifier.verify(header);
      expect(verification).toHaveBeenCalledTimes(1);
      // Timers advanced, not only the clock set: lru-cache refreshes its reading of the clock on a timer.
      jest.advanceTimersByTime(1_001);
      // Past exp the cache no longer answers; jose's 5 s clock tolerance still accepts it once more…
      await verifier.verify(header);
      expect(verification).toHaveBeenCalledTimes(2);
      jest.advanceTimersByTime(5_000);
      // …and after that it is refused, not remembered.
      expect((await rejection(verifier.verify(header))).message).toBe('Token has expired');
      expect(verification).toHaveBeenCalledTimes(3);
    });

    it('answers knownPrincipal at once only for a token it accepted and whose exp has not passed', async () => {
      jest.useFakeTimers({ now: new Date('2026-12-01T10:00:00Z') });
      const verifier = await JwtVerifier.create(config);
      const header = `Bearer ${await hs256({ tenant: 'acme', perms: ['tokens:admin'] }, '60s')}`;
      const refused = `Bearer ${await hs256({ tenant: 'acme corp', perms: [] })}`;
      expect(verifier.knownPrincipal(header)).toBeUndefined();
      const principal = await verifier.verify(header);
      expect(verifier.knownPrincipal(header)).toBe(principal);
      expect(verifier.knownPrincipal(header.replace('Bearer', 'bearer'))).toBe(principal);
      await rejection(verifier.verify(refused));
      for (const other of [refused, undefined, '', 'Basic abc', header.slice('Bearer '.length), `${header} extra`]) {
        expect(verifier.knownPrincipal(other)).toBeUndefined();
      }
      jest.advanceTimersByTime(60_001);
      expect(verifier.knownPrincipal(header)).toBeUndefined();
    });

    it('keeps refused tokens out and stays bounded: the least recently used token is verified again', async () => {
      const verifier = await JwtVerifier.create(loadConfig(gatewayConfigSchema, { JWT_SECRET: SECRET, JWT_CACHE_MAX_ENTRIES: '2' }));
      const verification = spyOnVerification(verifier);
      const bad = `Bearer ${await hs256({ tenant: 'x'.repeat(65), perms: [] })}`;
      await rejection(verifier.verify(bad));
      await rejection(verifier.verify(bad));
      expect(verification).toHaveBeenCalledTimes(2);

      const [a, b, c] = await Promise.all(['a', 'b', 'c'].map(async (sub) => `Bearer ${await hs256({ sub, tenant: 'acme', perms: [] })}`));
      for (const header of [a, b, c, b, c]) await verifier.verify(header as string);
      expect(verification).toHaveBeenCalledTimes(5); // a, b, c verified; b and c from the cache
      await verifier.verify(a as string); // a was dropped when c came in
      expect(verification).toHaveBeenCalledTimes(6);
    });
  });

  it('verifies asymmetric (ES256) tokens with a configured public key and refuses HS256 then', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const verifier = await JwtVerifier.create(
      loadConfig(gatewayConfigSchema, { JWT_ALGORITHM: 'ES256', JWT_PUBLIC_KEY: await exportSPKI(publicKey) }),
    );
    const token = await new SignJWT({ tenant: 't', perms: ['a'] })
      .setProtectedHeader({ alg: 'ES256' })
      .setSubject('bob')
      .setExpirationTime('1m')
      .sign(privateKey);
    expect(await verifier.verify(`Bearer ${token}`)).toEqual({ sub: 'bob', tenant: 't', perms: ['a'] });
    expect((await rejection(verifier.verify(`Bearer ${await hs256({ tenant: 't', perms: [] })}`))).kind).toBe('unauthenticated');
  });

  it('requires a public key when the algorithm is asymmetric', () => {
    expect(() => loadConfig(gatewayConfigSchema, { JWT_ALGORITHM: 'RS256' })).toThrow('JWT_PUBLIC_KEY');
  });
});
