-- A run ends succeeded, failed or cancelled (the domain's RUN_OUTCOMES); *why* it failed is the
-- error taxonomy's kind (auth / retryable / permanent / validation) plus the error code and hint.
-- 0001 had folded kinds into the outcome; no rows used those values.
ALTER TABLE sync_runs DROP CONSTRAINT sync_runs_outcome_check;
ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_outcome_check CHECK (outcome IN ('running', 'succeeded', 'failed', 'cancelled'));
ALTER TABLE sync_runs ADD COLUMN error_kind text CHECK (error_kind IN ('auth', 'retryable', 'permanent', 'validation'));
