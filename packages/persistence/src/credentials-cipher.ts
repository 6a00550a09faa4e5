import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { PermanentError, ValidationError } from '@intellifin/core';

/**
 * AES-256-GCM encryption of provider credentials at rest, with key rotation.
 *
 * The key ring comes from `CREDENTIALS_ENCRYPTION_KEY`: comma-separated `<keyId>:<base64 32 bytes>`
 * entries; the **first** is the active key used to encrypt, the rest still decrypt older rows.
 * Every ciphertext is stored with the id of the key that made it, a fresh 96-bit nonce, and is
 * bound to its row by additional authenticated data (e.g. `<credentialId>:<orgId>:<provider>`),
 * so a ciphertext copied onto another row fails to decrypt.
 */
export interface EncryptedSecret {
  keyId: string;
  nonce: Buffer;
  /** GCM ciphertext with the 16-byte auth tag appended. */
  ciphertext: Buffer;
}

const TAG_BYTES = 16;

export class CredentialsCipher {
  private readonly keys: Map<string, Buffer>;
  readonly activeKeyId: string;

  constructor(keyRing: string) {
    const entries = keyRing
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (entries.length === 0) throw new ValidationError('invalid_key_ring', 'CREDENTIALS_ENCRYPTION_KEY holds no keys');
    this.keys = new Map();
    for (const [i, entry] of entries.entries()) {
      const sep = entry.indexOf(':');
      const id = sep > 0 ? entry.slice(0, sep) : '';
      const key = Buffer.from(sep > 0 ? entry.slice(sep + 1) : '', 'base64');
      // Never echo key material: name the entry by position only.
      if (!/^[A-Za-z0-9_-]{1,32}$/.test(id))
        throw new ValidationError(
          'invalid_key_ring',
          `CREDENTIALS_ENCRYPTION_KEY entry ${i + 1}: key id must be 1-32 of [A-Za-z0-9_-] followed by ':'`,
        );
      if (key.length !== 32)
        throw new ValidationError(
          'invalid_key_ring',
          `CREDENTIALS_ENCRYPTION_KEY entry ${i + 1} (${id}): key must be 32 bytes, base64-encoded`,
        );
      if (this.keys.has(id)) throw new ValidationError('invalid_key_ring', `CREDENTIALS_ENCRYPTION_KEY: duplicate key id ${id}`);
      this.keys.set(id, key);
    }
    this.activeKeyId = entries[0]!.slice(0, entries[0]!.indexOf(':'));
  }

  static generateKey(): string {
    return randomBytes(32).toString('base64');
  }

  encrypt(plaintext: string, aad: string): EncryptedSecret {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.activeKeyId)!, nonce);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return { keyId: this.activeKeyId, nonce, ciphertext: Buffer.concat([body, cipher.getAuthTag()]) };
  }

  decrypt(secret: EncryptedSecret, aad: string): string {
    const key = this.keys.get(secret.keyId);
    if (!key)
      throw new PermanentError('credential_key_unknown', `credential was encrypted with key ${secret.keyId}, which is not in the key ring`);
    if (secret.ciphertext.length < TAG_BYTES) throw new PermanentError('credential_corrupt', 'credential ciphertext is truncated');
    const decipher = createDecipheriv('aes-256-gcm', key, secret.nonce);
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(secret.ciphertext.subarray(secret.ciphertext.length - TAG_BYTES));
    try {
      return Buffer.concat([
        decipher.update(secret.ciphertext.subarray(0, secret.ciphertext.length - TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw new PermanentError('credential_corrupt', 'credential failed authentication (wrong key, wrong row or tampered)');
    }
  }

  /** True when the row should be re-encrypted under the active key. */
  isStale(secret: Pick<EncryptedSecret, 'keyId'>): boolean {
    return secret.keyId !== this.activeKeyId;
  }
}
