import { SignJWT } from 'jose';
import { DomainError } from '../errors';
import { ServiceCredentials } from './service-credentials';

const SECRET = 'a-test-secret-that-is-at-least-32-chars';

describe('ServiceCredentials', () => {
  const refusal = async (header: unknown, verifier = new ServiceCredentials('token-manager', SECRET)) => {
    const error = await verifier.verify(header).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DomainError);
    return { kind: (error as DomainError).kind, code: (error as DomainError).code, message: (error as DomainError).message };
  };

  it("accepts a peer's credential signed with the same secret and names the caller", async () => {
    const gateway = new ServiceCredentials('gateway', SECRET);
    expect(gateway.readyToken()).toBeUndefined();
    const token = await gateway.token();
    expect(await gateway.token()).toBe(token); // minted once, reused until it is renewed
    expect(gateway.readyToken()).toBe(token); // and at hand without waiting once signed
    expect(await new ServiceCredentials('token-manager', SECRET).verify(`Bearer ${token}`)).toBe('gateway');
  });

  it('refuses a missing, foreign, expired or wrongly addressed credential', async () => {
    const key = new TextEncoder().encode(SECRET);
    const expired = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('gateway').setAudience('batchgate-services').setExpirationTime(Math.floor(Date.now() / 1000) - 60).sign(key);
    const elsewhere = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('gateway').setAudience('another-system').setExpirationTime('5m').sign(key);
    const foreign = await new ServiceCredentials('gateway', 'another-secret-that-is-long-enough-0000').token();
    expect(await refusal(undefined)).toEqual({ kind: 'unauthenticated', code: 'SERVICE.UNAUTHENTICATED', message: 'Missing service credential' });
    expect((await refusal(`Bearer ${expired}`)).message).toBe('Service credential has expired');
    expect((await refusal(`Bearer ${elsewhere}`)).message).toBe('Service credential is not valid');
    expect((await refusal(`Bearer ${foreign}`)).message).toBe('Service credential is not valid');
  });

  it('will not sign with a short secret', () => {
    expect(() => new ServiceCredentials('gateway', 'short')).toThrow(RangeError);
  });
});
