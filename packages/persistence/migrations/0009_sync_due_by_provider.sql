-- Dispatch reads pending syncs one provider at a time (the providers' passes run side by side and
-- the next one can start while later providers are still being planned), so its keyset pages
-- walk (provider, due_at, account_id). The all-provider index it replaces served no other query.
CREATE INDEX sync_due_provider_due ON sync_due (provider, due_at, account_id);
DROP INDEX sync_due_due;
