-- A transaction belongs to its account's organisation, enforced: one composite foreign key
-- (account_id, org_id) → accounts(id, org_id) replaces the two single-column ones.
--
-- Before, org_id was whatever the writer passed: a row could name one organisation's account and
-- another organisation (and so be visible to the wrong tenant under RLS). Now the pair must exist
-- in accounts. The organisation's own existence follows (accounts.org_id references it) and its
-- deletion still cascades through its accounts.
--
-- It is also one referential check per inserted row instead of two: the upsert is the hottest
-- statement of the system, and each check is a query of its own (≈ 6 µs of a ≈ 45 µs row).
ALTER TABLE accounts ADD CONSTRAINT accounts_id_org_key UNIQUE (id, org_id);

ALTER TABLE transactions
  DROP CONSTRAINT transactions_account_id_fkey,
  DROP CONSTRAINT transactions_org_id_fkey,
  ADD CONSTRAINT transactions_account_org_fkey FOREIGN KEY (account_id, org_id)
    REFERENCES accounts (id, org_id) ON DELETE CASCADE;
