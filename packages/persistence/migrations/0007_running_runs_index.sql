-- Runs still marked running, per account: a new run closes the rows a crashed or fenced-off run
-- left behind (sync-engine beginRun). The partial index holds only those few rows, so the close
-- needs no time bound and old strays are found too.
CREATE INDEX sync_runs_running ON sync_runs (account_id) WHERE outcome = 'running';
