import { parseCurrency, type AccountRef } from '@intellifin/domain';
import { AirtelApi, AirtelClient } from '@intellifin/providers';
import { CredentialsCipher, getAccount, readCredential } from '@intellifin/persistence';
import { WalletSession } from '@intellifin/wallet-sync';
import { KEY_RING, requestLog, startEnv, type Env } from './helpers';

/**
 * A run's token is refused while another run has just refreshed the shared cached token, and the
 * provider revokes that one too before the first run reads it: the refused token came from the
 * cache, not from a refresh of this call, so it proves nothing about the credentials. The call
 * refreshes once more and succeeds; the account is never taken for revoked (chaos S8, finding 10).
 */
let env: Env;
beforeAll(async () => {
  env = await startEnv({ accounts: 1, referencesPerAccount: 1 });
});
afterAll(() => env.close());

it('a refused token another run had cached earns a refresh of its own, not an AuthError', async () => {
  const worker = await env.startWorker();
  const api = new AirtelApi(new AirtelClient(worker.http));
  const cipher = new CredentialsCipher(KEY_RING);
  const record = (await getAccount(env.db.pool, [...env.accounts.values()][0]!))!;
  const account: AccountRef = {
    id: record.id,
    orgId: record.orgId,
    provider: 'airtel',
    type: record.type,
    currency: parseCurrency(record.currency),
    providerAccountId: record.providerAccountId,
    status: 'active',
    credentialId: record.credentialId!,
  };
  const session = await WalletSession.open({ api, pool: env.db.pool, cipher, tokens: worker.tokens }, account);
  const credential = api.parseCredential((await readCredential<unknown>(env.db.pool, cipher, record.credentialId!))!.secret);
  const key = { provider: 'airtel', credentialId: record.credentialId!, product: api.productFor('balance') };
  const signal = new AbortController().signal;

  let tries = 0;
  const balance = await session.call('balance', signal, async (call) => {
    if (tries++ === 0) {
      // Another run saw the same refusal first: it refreshes and caches its new token ...
      await worker.tokens.refreshAfterRejection(key, call.token, (s) => api.requestToken(credential, key.product, s ?? signal));
      // ... and then the provider revokes every token it issued, that one included.
      await env.control('POST', '/tokens/expire', {});
    }
    return api.readBalance(call);
  });

  expect(balance).toBeDefined();
  // The refused tokens: this call's own, then the other run's cached one; the third (issued for this call) served.
  expect(tries).toBe(3);
  const log = await requestLog(env);
  expect(log.filter((r) => r.route === '/auth/oauth2/token').length).toBe(3);
  expect(log.filter((r) => r.status === 401).length).toBe(2);
});
