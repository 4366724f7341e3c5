import { randomBytes } from 'node:crypto';
import { maskSecret, SecretCipher } from './secret-cipher';

describe('SecretCipher', () => {
  const cipher = new SecretCipher(randomBytes(32).toString('base64'));

  it('round-trips, with a fresh IV each time', () => {
    const a = cipher.encrypt('sk-secret', '7');
    const b = cipher.encrypt('sk-secret', '7');
    expect(a).not.toBe(b);
    expect(cipher.decrypt(a, '7')).toBe('sk-secret');
  });

  it('refuses a ciphertext moved to another row, tampered with, or read with another key', () => {
    const stored = cipher.encrypt('sk-secret', '7');
    expect(() => cipher.decrypt(stored, '8')).toThrow();
    const raw = Buffer.from(stored.slice(3), 'base64');
    raw[raw.length - 1] = (raw[raw.length - 1] ?? 0) ^ 1;
    expect(() => cipher.decrypt(`v1:${raw.toString('base64')}`, '7')).toThrow();
    expect(() => new SecretCipher(randomBytes(32).toString('base64')).decrypt(stored, '7')).toThrow();
    expect(() => new SecretCipher(randomBytes(16).toString('base64'))).toThrow('32 bytes');
  });

  it('masks all but at most the last 4 characters, never more than a quarter of the secret', () => {
    expect(maskSecret('sk-live-0123456789abcdwxyz')).toBe('…wxyz');
    expect(maskSecret('abcdefghijkl')).toBe('…jkl');
    expect(maskSecret('short')).toBe('…t');
    expect(maskSecret('abc')).toBe('…');
  });

  it('fingerprints a secret the same way each time, differently per secret and per key', () => {
    const other = new SecretCipher(randomBytes(32).toString('base64'));
    expect(cipher.fingerprint('sk-secret')).toBe(cipher.fingerprint('sk-secret'));
    expect(cipher.fingerprint('sk-secret')).toMatch(/^[0-9a-f]{64}$/);
    expect(cipher.fingerprint('sk-secret2')).not.toBe(cipher.fingerprint('sk-secret'));
    expect(other.fingerprint('sk-secret')).not.toBe(cipher.fingerprint('sk-secret'));
  });
});
