-- Provider ingress (issue #13): sync-api stores every Mono webhook and every MoMo/Airtel callback in
-- `webhook_events` (deduplicated by (provider, event_id)) before it answers the provider, then
-- processes the Mono events asynchronously; callbacks are handed to the workers through the outbox
-- in the same transaction as their row.
--
-- Work-queue columns on webhook_events:
--   state           pending (to process), done (processed), failed (terminal after N attempts: an
--                   operator looks at it), unmatched (its account never became known within the
--                   retention of unknown-account retries), forwarded (a callback handed to the workers)
--   attempts        processing attempts so far; next_attempt_at: when it may be tried again (backoff)
--   outcome         what processing did (queued_sync, auth_required, disabled, repaired, ignored, …)
--   deliveries      how often the provider delivered it (duplicates count here, nothing else happens)
ALTER TABLE webhook_events
  ADD COLUMN state            text NOT NULL DEFAULT 'pending'
                              CHECK (state IN ('pending', 'done', 'failed', 'unmatched', 'forwarded')),
  ADD COLUMN attempts         integer NOT NULL DEFAULT 0,
  ADD COLUMN next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  ADD COLUMN outcome          text,
  ADD COLUMN last_error       text,
  ADD COLUMN deliveries       integer NOT NULL DEFAULT 1,
  ADD COLUMN last_received_at timestamptz NOT NULL DEFAULT now();
-- Rows stored before this migration were processed by whoever stored them.
UPDATE webhook_events SET state = 'done' WHERE processed_at IS NOT NULL;
ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_provider_check CHECK (provider IN ('mono', 'momo', 'airtel'));
CREATE INDEX webhook_events_pending ON webhook_events (provider, next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX webhook_events_attention ON webhook_events (state) WHERE state IN ('pending', 'failed', 'unmatched');

-- webhook_events has no organisation column (an event names a provider account; which organisation
-- owns it is what processing finds out), so intellifin_api gets NO grant and NO policy on the table:
-- it reaches it only through the four functions below, which run as the owner. The one place the
-- API learns another organisation's account is `claim_webhook_event`: the id and organisation of
-- the account a stored, claimed event names, nothing else. With those the processor acts inside
-- that organisation's scope (withOrgScope-style `app.org_id`), under the API's ordinary policies.

-- Stores an event, or counts a repeat delivery. `fresh` is true when the row is new work: inserted
-- now, or re-armed. Re-arming (p_rearm_after not null) is for events whose id we derived from their
-- content (Mono sends most events without an id): an identical body long after the first was
-- processed is a new occurrence (e.g. a second reauthorisation_required months later), not a retry.
CREATE FUNCTION ingest_webhook_event(p_provider text, p_event_id text, p_event_type text, p_account_ref text, p_payload jsonb,
                                     p_state text, p_rearm_after interval)
  RETURNS TABLE (id bigint, fresh boolean)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
BEGIN
  IF p_state NOT IN ('pending', 'forwarded') THEN
    RAISE EXCEPTION 'ingest_webhook_event: state % not allowed', p_state USING ERRCODE = '22023';
  END IF;
  RETURN QUERY
  INSERT INTO webhook_events AS w (provider, event_id, event_type, account_ref, payload, state, processed_at)
  VALUES (p_provider, p_event_id, p_event_type, p_account_ref, p_payload, p_state, CASE WHEN p_state = 'forwarded' THEN now() END)
  ON CONFLICT (provider, event_id) DO UPDATE
    SET deliveries = w.deliveries + 1,
        last_received_at = now(),
        received_at = CASE WHEN p_rearm_after IS NOT NULL AND w.state = 'done' AND w.processed_at < now() - p_rearm_after
                           THEN now() ELSE w.received_at END,
        state = CASE WHEN p_rearm_after IS NOT NULL AND w.state = 'done' AND w.processed_at < now() - p_rearm_after
                     THEN 'pending' ELSE w.state END,
        attempts = CASE WHEN p_rearm_after IS NOT NULL AND w.state = 'done' AND w.processed_at < now() - p_rearm_after
                        THEN 0 ELSE w.attempts END,
        next_attempt_at = CASE WHEN p_rearm_after IS NOT NULL AND w.state = 'done' AND w.processed_at < now() - p_rearm_after
                               THEN now() ELSE w.next_attempt_at END,
        processed_at = CASE WHEN p_rearm_after IS NOT NULL AND w.state = 'done' AND w.processed_at < now() - p_rearm_after
                            THEN NULL ELSE w.processed_at END
  -- received_at = now() only for a row inserted or re-armed by this statement (now() is the
  -- transaction's start, and a repeat delivery comes in a later transaction).
  RETURNING w.id, w.received_at = now();
END
$$;

-- Claims the next pending event of a provider whose time has come, locked until the caller's
-- transaction ends (FOR UPDATE SKIP LOCKED: replicas never process the same event), with its
-- attempt counted, and the account it names (null when the database does not know it yet).
-- A caller that dies mid-way rolls back: the event is pending again, nothing lost.
CREATE FUNCTION claim_webhook_event(p_provider text)
  RETURNS TABLE (id bigint, event_id text, event_type text, account_ref text, payload jsonb, attempts integer,
                 received_at timestamptz, account_id uuid, org_id uuid)
  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
  WITH c AS (
    SELECT w.id FROM webhook_events w
     WHERE w.state = 'pending' AND w.provider = p_provider AND w.next_attempt_at <= now()
     ORDER BY w.next_attempt_at, w.id
     LIMIT 1
     FOR UPDATE SKIP LOCKED
  ), u AS (
    UPDATE webhook_events w SET attempts = w.attempts + 1 FROM c WHERE w.id = c.id
    RETURNING w.id, w.provider, w.event_id, w.event_type, w.account_ref, w.payload, w.attempts, w.received_at
  )
  SELECT u.id, u.event_id, u.event_type, u.account_ref, u.payload, u.attempts, u.received_at, a.id, a.org_id
    FROM u LEFT JOIN accounts a ON a.provider = u.provider AND a.provider_account_id = u.account_ref
$$;

-- Records what processing an event came to: done / failed / unmatched (terminal), or pending again
-- at p_retry_at. Done and unmatched rows get processed_at (the scheduler's retention deletes them
-- later); failed rows keep it null and stay until an operator acts.
CREATE FUNCTION settle_webhook_event(p_id bigint, p_state text, p_outcome text, p_error text, p_retry_at timestamptz)
  RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
BEGIN
  IF p_state NOT IN ('pending', 'done', 'failed', 'unmatched') THEN
    RAISE EXCEPTION 'settle_webhook_event: state % not allowed', p_state USING ERRCODE = '22023';
  END IF;
  UPDATE webhook_events
     SET state = p_state,
         outcome = p_outcome,
         last_error = left(p_error, 500),
         next_attempt_at = coalesce(p_retry_at, next_attempt_at),
         processed_at = CASE WHEN p_state IN ('done', 'unmatched') THEN now() END
   WHERE id = p_id;
END
$$;

-- The backlog an operator (and the pending gauge) sees: rows needing attention per provider and state.
CREATE FUNCTION webhook_events_backlog()
  RETURNS TABLE (provider text, state text, events bigint, oldest timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
  SELECT w.provider, w.state, count(*), min(w.received_at) FROM webhook_events w
   WHERE w.state IN ('pending', 'failed', 'unmatched') GROUP BY w.provider, w.state
$$;

REVOKE ALL ON FUNCTION ingest_webhook_event(text, text, text, text, jsonb, text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION claim_webhook_event(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION settle_webhook_event(bigint, text, text, text, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION webhook_events_backlog() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ingest_webhook_event(text, text, text, text, jsonb, text, interval) TO intellifin_api;
GRANT EXECUTE ON FUNCTION claim_webhook_event(text) TO intellifin_api;
GRANT EXECUTE ON FUNCTION settle_webhook_event(bigint, text, text, text, timestamptz) TO intellifin_api;
GRANT EXECUTE ON FUNCTION webhook_events_backlog() TO intellifin_api;
