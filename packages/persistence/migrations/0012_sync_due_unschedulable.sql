-- Pending scheduled syncs of accounts that can no longer be synced by the scheduler are removed
-- (issue #9, scheduler review). An account whose status becomes `auth_required` (the user must
-- re-authenticate) or `disabled` kept its `sync_due` row: dispatch filtered it out by its join to
-- `accounts`, but walked it again on every pass, for as long as the account stayed so.
--
-- The status changes in several places (the sync engine's run finish, the dead-letter path, the
-- API, provider webhooks), so the rule lives here, once, where every one of them goes through: a
-- trigger on `accounts.status`. It runs as the function's owner (SECURITY DEFINER, fixed
-- search_path, schema-qualified names): the role that changes the status — a worker, the API —
-- need not (and does not) have DELETE on `sync_due`, nor see its rows through row-level security.
-- An account that becomes `active` or `error` again gets a pending sync from the next slot of its
-- plans (the planner marks `active` and `error` accounts only).
CREATE FUNCTION sync_due_drop_unschedulable() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
BEGIN
  DELETE FROM public.sync_due WHERE account_id = NEW.id;
  RETURN NULL;
END
$$;
-- Only ever run by the trigger (a trigger function cannot be called directly anyway).
REVOKE ALL ON FUNCTION sync_due_drop_unschedulable() FROM PUBLIC;

-- Row-level, with the condition in WHEN: the function runs only for rows whose new status is one
-- of the two (a run finishing `active` costs nothing). Not only on a change of status: setting
-- `auth_required` again also removes a row a concurrent planning pass wrote meanwhile.
CREATE TRIGGER accounts_unschedulable_drop_due
  AFTER UPDATE OF status ON accounts
  FOR EACH ROW
  WHEN (NEW.status IN ('auth_required', 'disabled'))
  EXECUTE FUNCTION sync_due_drop_unschedulable();

-- The rows left behind before this migration.
DELETE FROM sync_due d
 USING accounts a
 WHERE a.id = d.account_id AND a.status IN ('auth_required', 'disabled');
