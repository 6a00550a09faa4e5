-- A transaction may be `removed`: it was pending and the provider no longer returns it for a window
-- covering its date (a released card hold; Mono's statement shrinking, providers.md §1.10.10).
-- It stays a row: the status change is a modification with a new change_version, so clients see
-- it in the delta feed; a hard delete would be invisible to them.
ALTER TABLE transactions
  DROP CONSTRAINT transactions_status_check,
  ADD CONSTRAINT transactions_status_check CHECK (status IN ('pending', 'posted', 'failed', 'reversed', 'removed'));
