import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const FORMAT_VERSION = 'v1';

/**
 * AES-256-GCM for token secrets at rest: a random IV per encryption and the row id as additional
 * authenticated data, so a ciphertext copied onto another row does not decrypt.
 */
export class SecretCipher {
  private readonly key: Buffer;
  /** Derived from the encryption key (HKDF), so a fingerprint says nothing about the key itself. */
  private readonly fingerprintKey: Buffer;

  constructor(base64Key: string) {
    this.key = Buffer.from(base64Key, 'base64');
    if (this.key.length !== 32) throw new Error('The token encryption key must be 32 bytes');
    this.fingerprintKey = Buffer.from(hkdfSync('sha256', this.key, Buffer.alloc(0), 'batchgate api_token secret fingerprint v1', 32));
  }

  /**
   * A keyed hash of a secret (HMAC-SHA256, hex): equal secrets have equal fingerprints, so a
   * repeated secret is found by an index lookup instead of decrypting every stored one, and
   * without the key the fingerprint cannot be checked against guessed secrets.
   */
  fingerprint(plaintext: string): string {
    return createHmac('sha256', this.fingerprintKey).update(plaintext, 'utf8').digest('hex');
  }

  encrypt(plaintext: string, rowId: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(rowId));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `${FORMAT_VERSION}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
  }

  decrypt(stored: string, rowId: string): string {
    const [version, encoded] = stored.split(':');
    if (version !== FORMAT_VERSION || !encoded) throw new Error('Unknown secret format');
    const raw = Buffer.from(encoded, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(rowId));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  }
}

/**
 * What admins see instead of a secret: its last characters after "…", at most 4 and never more
 * than a quarter of it (nothing of its start, nor its length), e.g. "…wxyz".
 */
export function maskSecret(secret: string): string {
  const shown = Math.min(4, Math.floor(secret.length / 4));
  return `…${shown > 0 ? secret.slice(-shown) : ''}`;
}
