import type { ProviderId } from '@intellifin/domain';
import type { CredentialsCipher } from './credentials-cipher';
import type { Queryable } from './db';

/**
 * Encrypted provider credentials. The plaintext is a JSON object (e.g. MoMo `{apiUser, apiKey,
 * subscriptionKey}`, Airtel `{clientId, clientSecret}`); only this module sees it in clear.
 * Additional authenticated data binds each ciphertext to its row: id, organisation and provider.
 */
const aadOf = (id: string, orgId: string, provider: string) => `${id}:${orgId}:${provider}`;

interface CredentialRow {
  id: string;
  org_id: string;
  provider: ProviderId;
  key_id: string;
  nonce: Buffer;
  ciphertext: Buffer;
  version: number;
}

export interface DecryptedCredential<T> {
  id: string;
  orgId: string;
  provider: ProviderId;
  version: number;
  secret: T;
}

export async function insertCredential(
  db: Queryable,
  cipher: CredentialsCipher,
  c: { orgId: string; provider: ProviderId; secret: object; expiresAt?: Date | null },
): Promise<string> {
  const { rows } = await db.query<{ id: string }>('SELECT gen_random_uuid() AS id');
  const id = rows[0]!.id;
  const enc = cipher.encrypt(JSON.stringify(c.secret), aadOf(id, c.orgId, c.provider));
  await db.query(
    `INSERT INTO provider_credentials (id, org_id, provider, key_id, nonce, ciphertext, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [id, c.orgId, c.provider, enc.keyId, enc.nonce, enc.ciphertext, c.expiresAt ?? null],
  );
  return id;
}

export async function readCredential<T>(db: Queryable, cipher: CredentialsCipher, id: string): Promise<DecryptedCredential<T> | null> {
  const { rows } = await db.query<CredentialRow>(
    'SELECT id, org_id, provider, key_id, nonce, ciphertext, version FROM provider_credentials WHERE id = $1',
    [id],
  );
  const r = rows[0];
  if (!r) return null;
  const plain = cipher.decrypt({ keyId: r.key_id, nonce: r.nonce, ciphertext: r.ciphertext }, aadOf(r.id, r.org_id, r.provider));
  return { id: r.id, orgId: r.org_id, provider: r.provider, version: r.version, secret: JSON.parse(plain) as T };
}

/**
 * Replaces a credential's secret if its version is still `expectedVersion` (compare-and-set, so an
 * older refresh can never clobber a newer one). Returns false when the version moved on.
 */
export async function updateCredential(
  db: Queryable,
  cipher: CredentialsCipher,
  c: { id: string; orgId: string; provider: ProviderId; expectedVersion: number; secret: object },
): Promise<boolean> {
  const enc = cipher.encrypt(JSON.stringify(c.secret), aadOf(c.id, c.orgId, c.provider));
  const res = await db.query(
    `UPDATE provider_credentials SET key_id = $3, nonce = $4, ciphertext = $5, version = version + 1, updated_at = now()
      WHERE id = $1 AND version = $2`,
    [c.id, c.expectedVersion, enc.keyId, enc.nonce, enc.ciphertext],
  );
  return res.rowCount === 1;
}

/**
 * Key rotation: re-encrypts, under the active key, every credential still under another key.
 * Run after putting a new key first in the ring (keep the old one until this reports 0 left).
 */
export async function reencryptStaleCredentials(db: Queryable, cipher: CredentialsCipher, batch = 500): Promise<{ reencrypted: number }> {
  let reencrypted = 0;
  for (;;) {
    const { rows } = await db.query<CredentialRow>(
      'SELECT id, org_id, provider, key_id, nonce, ciphertext, version FROM provider_credentials WHERE key_id <> $1 ORDER BY id LIMIT $2',
      [cipher.activeKeyId, batch],
    );
    if (rows.length === 0) return { reencrypted };
    for (const r of rows) {
      const aad = aadOf(r.id, r.org_id, r.provider);
      const plain = cipher.decrypt({ keyId: r.key_id, nonce: r.nonce, ciphertext: r.ciphertext }, aad);
      const enc = cipher.encrypt(plain, aad);
      const res = await db.query(
        'UPDATE provider_credentials SET key_id = $3, nonce = $4, ciphertext = $5, updated_at = now() WHERE id = $1 AND version = $2',
        [r.id, r.version, enc.keyId, enc.nonce, enc.ciphertext],
      );
      reencrypted += res.rowCount ?? 0;
    }
  }
}
