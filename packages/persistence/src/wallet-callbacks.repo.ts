import type { Queryable } from './db';
import type { WalletProviderId } from './wallet-references.repo';

/**
 * Provider callbacks (MoMo, Airtel), kept until their effect is in the transactions (migration 0014).
 * A callback is stored whether or not its reference is registered; registering the reference later
 * binds it to the account, and the next run of that account folds it in through the fenced path.
 */
export type CallbackStatus = 'pending' | 'successful' | 'failed' | 'not_found';

export interface WalletCallbackInput {
  provider: WalletProviderId;
  referenceId: string;
  status: CallbackStatus;
  ledgerId: string | null;
  reason: string | null;
  /** Digest of the normalised transition: the same transition delivered twice is one row. */
  digest: string;
  /** The body with personal data masked. */
  payload: unknown;
}

export interface StoredCallback {
  id: string;
  provider: WalletProviderId;
  referenceId: string;
  accountId: string | null;
  orgId: string | null;
  status: CallbackStatus;
  ledgerId: string | null;
  reason: string | null;
  payload: unknown;
  receivedAt: Date;
}

interface CbRow {
  id: string;
  provider: WalletProviderId;
  reference_id: string;
  account_id: string | null;
  org_id: string | null;
  status: CallbackStatus;
  ledger_id: string | null;
  reason: string | null;
  payload: unknown;
  received_at: Date;
}

const toCb = (r: CbRow): StoredCallback => ({
  id: String(r.id),
  provider: r.provider,
  referenceId: r.reference_id,
  accountId: r.account_id,
  orgId: r.org_id,
  status: r.status,
  ledgerId: r.ledger_id,
  reason: r.reason,
  payload: r.payload,
  receivedAt: r.received_at,
});

/**
 * Stores a callback (bound to its account when the reference is registered). `duplicate`: the same
 * transition was stored before. `account`: the reference's account, if registered. `issuedAt`: the
 * database clock, for the sync command the caller publishes.
 */
export async function storeWalletCallback(
  db: Queryable,
  cb: WalletCallbackInput,
): Promise<{ duplicate: boolean; account: { accountId: string; orgId: string } | null; issuedAt: Date }> {
  const { rows } = await db.query<{ inserted: boolean; account_id: string | null; org_id: string | null; now: Date }>(
    `WITH ref AS (SELECT account_id, org_id FROM wallet_references WHERE provider = $1 AND reference_id = $2),
          ins AS (
            INSERT INTO wallet_callbacks (provider, reference_id, account_id, org_id, status, ledger_id, reason, digest, payload)
            SELECT $1, $2, (SELECT account_id FROM ref), (SELECT org_id FROM ref), $3, $4, $5, $6, $7
            ON CONFLICT (provider, reference_id, digest) DO NOTHING
            RETURNING 1)
     SELECT EXISTS (SELECT 1 FROM ins) AS inserted, (SELECT account_id FROM ref) AS account_id, (SELECT org_id FROM ref) AS org_id,
            now() AS now`,
    [cb.provider, cb.referenceId, cb.status, cb.ledgerId, cb.reason, cb.digest, JSON.stringify(cb.payload ?? null)],
  );
  const r = rows[0]!;
  return {
    duplicate: !r.inserted,
    account: r.account_id && r.org_id ? { accountId: r.account_id, orgId: r.org_id } : null,
    issuedAt: r.now,
  };
}

/** Binds callbacks that arrived before their reference was registered. Returns how many were bound. */
export async function bindWalletCallbacks(
  db: Queryable,
  provider: WalletProviderId,
  referenceId: string,
  account: { accountId: string; orgId: string },
): Promise<number> {
  const res = await db.query(
    `UPDATE wallet_callbacks SET account_id = $3, org_id = $4 WHERE provider = $1 AND reference_id = $2 AND account_id IS NULL`,
    [provider, referenceId, account.accountId, account.orgId],
  );
  return res.rowCount ?? 0;
}

/**
 * The final callbacks (successful / failed) stored for these references of the account, the
 * latest per reference.
 */
export async function finalCallbacksFor(
  db: Queryable,
  accountId: string,
  referenceIds: readonly string[],
): Promise<Map<string, StoredCallback>> {
  if (referenceIds.length === 0) return new Map();
  const { rows } = await db.query<CbRow>(
    `SELECT DISTINCT ON (reference_id) * FROM wallet_callbacks
      WHERE account_id = $1 AND reference_id = ANY($2::text[]) AND status IN ('successful', 'failed')
      ORDER BY reference_id, received_at DESC, id DESC`,
    [accountId, referenceIds],
  );
  return new Map(rows.map((r) => [r.reference_id, toCb(r)]));
}

/** Database clock (commands carry issuedAt from Postgres, as the engine compares it with run starts). */
export async function databaseNow(db: Queryable): Promise<Date> {
  const { rows } = await db.query<{ now: Date }>('SELECT now() AS now');
  return rows[0]!.now;
}
