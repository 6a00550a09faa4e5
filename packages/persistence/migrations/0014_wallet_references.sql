-- Merchant wallets (MoMo, Airtel; issue #11). Neither provider has a statement: the wallet's ledger
-- is the set of collections and payouts the platform created, each known by its reference.
--
-- `wallet_references`: the registry of every reference the platform registered (reference intake).
-- Its contents are what a second registration of the same reference is compared with (the same
-- contents: idempotent; different: refused, nothing changes). The reference's status lives in its
-- `transactions` row (provider_txn_id = reference_id), written by the fenced sync run only. The
-- payer/payee MSISDN is personal data: only a masked form is stored here (and in the transaction's
-- counterparty), never the number.
CREATE TABLE wallet_references (
  org_id         uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  account_id     uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  provider       text NOT NULL CHECK (provider IN ('momo', 'airtel')),
  reference_id   text NOT NULL CHECK (length(reference_id) BETWEEN 1 AND 255),
  kind           text NOT NULL CHECK (kind IN ('collection', 'payout')),
  amount_minor   bigint NOT NULL CHECK (amount_minor > 0),
  currency       char(3) NOT NULL,
  external_id    text,
  party_masked   text,
  created_at     timestamptz NOT NULL,
  registered_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, reference_id),
  -- A callback names the provider and the reference only: the reference must find its account.
  UNIQUE (provider, reference_id)
);
CREATE INDEX wallet_references_org ON wallet_references (org_id);

-- Provider callbacks, kept whether or not their reference is registered yet (one arriving before
-- the registration is applied once the reference is registered). Deduplicated by a digest of the
-- normalised transition, so a callback delivered twice is one row. `payload` is the body with the
-- party's number masked. account_id/org_id are filled when the reference is known.
CREATE TABLE wallet_callbacks (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  provider       text NOT NULL CHECK (provider IN ('momo', 'airtel')),
  reference_id   text NOT NULL CHECK (length(reference_id) BETWEEN 1 AND 255),
  org_id         uuid REFERENCES organizations(id) ON DELETE CASCADE,
  account_id     uuid REFERENCES accounts(id) ON DELETE CASCADE,
  status         text NOT NULL CHECK (status IN ('pending', 'successful', 'failed', 'not_found')),
  ledger_id      text,
  reason         text,
  digest         text NOT NULL,
  payload        jsonb NOT NULL,
  received_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (provider, reference_id, digest)
);
CREATE INDEX wallet_callbacks_account ON wallet_callbacks (account_id, reference_id) WHERE account_id IS NOT NULL;
CREATE INDEX wallet_callbacks_unbound ON wallet_callbacks (provider, reference_id) WHERE account_id IS NULL;
CREATE INDEX wallet_callbacks_received ON wallet_callbacks (received_at);

-- The run's query: an account's pending references, oldest first.
CREATE INDEX transactions_wallet_pending ON transactions (account_id, provider_txn_id) WHERE status = 'pending';

ALTER TABLE wallet_references ENABLE ROW LEVEL SECURITY;
ALTER TABLE wallet_references FORCE ROW LEVEL SECURITY;
ALTER TABLE wallet_callbacks ENABLE ROW LEVEL SECURITY;
ALTER TABLE wallet_callbacks FORCE ROW LEVEL SECURITY;

-- intellifin_worker (momo-worker, airtel-worker): registers references (registry row + the pending
-- transaction, already granted in 0010), stores callbacks and binds them to their account once the
-- reference is known. It never deletes either, and never changes a registered reference.
GRANT SELECT, INSERT ON wallet_references TO intellifin_worker;
GRANT SELECT, INSERT ON wallet_callbacks TO intellifin_worker;
GRANT UPDATE (org_id, account_id) ON wallet_callbacks TO intellifin_worker;
CREATE POLICY worker_all_orgs ON wallet_references TO intellifin_worker USING (true) WITH CHECK (true);
CREATE POLICY worker_all_orgs ON wallet_callbacks TO intellifin_worker USING (true) WITH CHECK (true);

-- intellifin_api reads its own organisation's references (sync-api adds routes later).
GRANT SELECT ON wallet_references TO intellifin_api;
CREATE POLICY api_org_scope ON wallet_references FOR SELECT TO intellifin_api
  USING (org_id = nullif(current_setting('app.org_id', true), '')::uuid);

-- The scheduler's retention may delete old callbacks (their effect lives in the transactions).
GRANT SELECT, DELETE ON wallet_callbacks TO intellifin_scheduler;
CREATE POLICY scheduler_retention ON wallet_callbacks TO intellifin_scheduler USING (true);
