import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { loadConfig } from '@batchgate/platform/config';
import { DomainError } from '@batchgate/platform/errors';
import { gatewayConfigSchema } from '../config/gateway.config';
import { JwtVerifier } from './jwt-verifier';

const SECRET = 'unit-test-secret-that-is-long-enough-000000';
const hs256 = (claims: Record<string, unknown>, exp: string | null = '5m', secret = SECRET) => {
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setIssuedAt();
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
