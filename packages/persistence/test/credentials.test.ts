import { createTestDatabase, type TestDatabase } from '@intellifin/testing';
import {
  CredentialsCipher,
  insertCredential,
  insertOrganization,
  readCredential,
  reencryptStaleCredentials,
  updateCredential,
} from '../src';

const k1 = `k1:${CredentialsCipher.generateKey()}`;

/** Whether `stored` holds the UTF-8 bytes of `plain` anywhere: bytes against bytes, one encoding. */
const holdsPlaintext = (stored: Buffer, plain: string): boolean => stored.includes(Buffer.from(plain, 'utf8'));
const k2 = `k2:${CredentialsCipher.generateKey()}`;

describe('CredentialsCipher', () => {
  it('round-trips, binds ciphertext to its row, and detects tampering', () => {
    const cipher = new CredentialsCipher(k1);
    const enc = cipher.encrypt('{"apiKey":"f1db798c98df4bcf83b538175893bbf0"}', 'row-1');
    expect(enc.keyId).toBe('k1');
    expect(holdsPlaintext(enc.ciphertext, 'f1db798c')).toBe(false);
    // The same check catches plaintext that reached the stored bytes (e.g. an identity "cipher").
    expect(holdsPlaintext(Buffer.concat([enc.ciphertext, Buffer.from('..f1db798c98df..')]), 'f1db798c')).toBe(true);
    expect(cipher.decrypt(enc, 'row-1')).toContain('f1db798c98df4bcf83b538175893bbf0');
    expect(() => cipher.decrypt(enc, 'row-2')).toThrow(/failed authentication/);
    const flipped = Buffer.from(enc.ciphertext);
    flipped[0] = flipped[0]! ^ 1;
    expect(() => cipher.decrypt({ ...enc, ciphertext: flipped }, 'row-1')).toThrow(/failed authentication/);
  });

  it('encrypts with the first key and still decrypts with older ones', () => {
    const old = new CredentialsCipher(k1).encrypt('secret', 'r');
    const rotated = new CredentialsCipher(`${k2},${k1}`);
    expect(rotated.decrypt(old, 'r')).toBe('secret');
    expect(rotated.isStale(old)).toBe(true);
    expect(rotated.encrypt('x', 'r').keyId).toBe('k2');
    expect(() => new CredentialsCipher(k2).decrypt(old, 'r')).toThrow(/key k1, which is not in the key ring/);
  });

  it('rejects a malformed key ring without echoing key material', () => {
    expect(() => new CredentialsCipher('')).toThrow(/holds no keys/);
    expect(() => new CredentialsCipher('k1:c2hvcnQ=')).toThrow(/entry 1 \(k1\): key must be 32 bytes/);
    expect(() => new CredentialsCipher('c2hvcnQ=')).toThrow(/entry 1: key id/);
    try {
      new CredentialsCipher('k1:c2hvcnQ=');
    } catch (err) {
      expect(String(err)).not.toContain('c2hvcnQ=');
    }
    expect(() => new CredentialsCipher(`${k1},${k1}`)).toThrow(/duplicate key id k1/);
  });
});

describe('provider credentials at rest', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  it('stores only ciphertext, updates by compare-and-set, and re-encrypts on key rotation', async () => {
    const orgId = await insertOrganization(db.pool, 'Mwila Traders');
    const v1 = new CredentialsCipher(k1);
    const secret = { apiUser: '3f1b0b1e-0000-4000-8000-000000000001', apiKey: 'momo-api-key-0123456789', subscriptionKey: 'sub-abcdef' };
    const id = await insertCredential(db.pool, v1, { orgId, provider: 'momo', secret });

    // The stored column as the bytes it holds (bytea comes back as a Buffer), not its hex text.
    const raw = await db.pool.query<{ c: Buffer; key_id: string }>(
      'SELECT ciphertext AS c, key_id FROM provider_credentials WHERE id = $1',
      [id],
    );
    expect(raw.rows[0]!.key_id).toBe('k1');
    expect(Buffer.isBuffer(raw.rows[0]!.c)).toBe(true);
    for (const value of Object.values(secret)) expect(holdsPlaintext(raw.rows[0]!.c, value)).toBe(false);
    // Proof the check can fail: a row whose ciphertext column holds the plaintext is caught by it,
    // read back the same way.
    const leaked = await db.pool.query<{ c: Buffer }>(`SELECT convert_to($1, 'UTF8') AS c`, [JSON.stringify(secret)]);
    expect(holdsPlaintext(leaked.rows[0]!.c, secret.apiKey)).toBe(true);
    expect((await readCredential(db.pool, v1, id))!.secret).toEqual(secret);

    expect(
      await updateCredential(db.pool, v1, {
        id,
        orgId,
        provider: 'momo',
        expectedVersion: 1,
        secret: { ...secret, apiKey: 'rotated-key' },
      }),
    ).toBe(true);
    expect(
      await updateCredential(db.pool, v1, {
        id,
        orgId,
        provider: 'momo',
        expectedVersion: 1,
        secret: { ...secret, apiKey: 'older-refresh' },
      }),
    ).toBe(false);

    const v2 = new CredentialsCipher(`${k2},${k1}`);
    expect(await reencryptStaleCredentials(db.pool, v2)).toEqual({ reencrypted: 1 });
    expect(await reencryptStaleCredentials(db.pool, v2)).toEqual({ reencrypted: 0 });
    const onlyNewKey = new CredentialsCipher(k2);
    expect((await readCredential<typeof secret>(db.pool, onlyNewKey, id))!.secret.apiKey).toBe('rotated-key');
  });
});
