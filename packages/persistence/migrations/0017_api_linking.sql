-- sync-api linking and repair (issue #13): the API links accounts (POST /v1/accounts/{mono,momo,airtel}),
-- repairs them (PUT /v1/accounts/:id/credentials, POST /v1/accounts/:id/reauth) and unlinks them
-- (DELETE /v1/accounts/:id). Until now intellifin_api only read accounts and had no access at all to
-- provider_credentials (0002, 0010). Everything below stays scoped to the caller's organisation
-- (app.org_id, set by withOrgScope) by row-level security.

-- users: the caller's row is created on their first link (external_id = the JWT subject).
GRANT INSERT (org_id, external_id) ON users TO intellifin_api;
-- 0002's users policy has USING only, which also checks inserted rows: an org's own users only.

-- accounts: a link inserts the row; repair, re-auth links and unlink change these columns only.
-- Repair and unlink move the fence on (as a new run does), so a run still in flight with the old
-- credentials, or for an account just unlinked, can write nothing, not even its final status.
GRANT INSERT (org_id, user_id, provider, provider_account_id, type, currency, display_name, credential_id) ON accounts TO intellifin_api;
GRANT UPDATE (credential_id, reauth_url, reauth_url_expires_at, consecutive_failures, balance_minor, balance_as_of, fence)
  ON accounts TO intellifin_api;

-- provider_credentials: the API encrypts what it verified with the provider (the key ring is in its
-- configuration, as in the workers'), reads it back to merge a partial repair (a MoMo key
-- regenerated: the API user and subscription keys stay), replaces it by compare-and-set on
-- `version`, and erases it on unlink. Its own organisation's rows only (the policy below).
GRANT SELECT, INSERT, DELETE ON provider_credentials TO intellifin_api;
GRANT UPDATE (key_id, nonce, ciphertext, version, updated_at, expires_at) ON provider_credentials TO intellifin_api;
CREATE POLICY org_isolation ON provider_credentials TO intellifin_api
  USING (org_id = nullif(current_setting('app.org_id', true), '')::uuid)
  WITH CHECK (org_id = nullif(current_setting('app.org_id', true), '')::uuid);

-- transactions: `DELETE /v1/accounts/:id?erase=true` erases an unlinked account's transactions at
-- once (the default keeps them; see services/sync-api/README.md "Linking and repair").
GRANT DELETE ON transactions TO intellifin_api;
