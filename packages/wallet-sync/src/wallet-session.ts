import { AuthError } from '@intellifin/core';
import type { AccountRef } from '@intellifin/domain';
import { readCredential, type CredentialsCipher, type Pool, type RedisTokenCache, type TokenKey } from '@intellifin/persistence';
import { TokenRejectedError, type ReferenceKind, type WalletApi, type WalletCall } from './wallet-api';

export interface WalletSessionDeps<C> {
  api: WalletApi<C>;
  pool: Pool;
  cipher: CredentialsCipher;
  tokens: RedisTokenCache;
}

/**
 * One account's authorised access to its provider for the length of a run: the merchant's
 * credential decrypted once, tokens from the shared Redis cache, and the re-auth rule of issue #11:
 * a business call answered 401 drops that token and refreshes; a 401 on a token issued for the call
 * (or on a third token), or a refresh the provider refuses, is an `AuthError` (the engine marks the
 * account `auth_required`).
 */
export class WalletSession<C> {
  private constructor(
    private readonly d: WalletSessionDeps<C>,
    readonly account: AccountRef,
    private readonly credentialId: string,
    private readonly credential: C,
  ) {}

  static async open<C>(d: WalletSessionDeps<C>, account: AccountRef): Promise<WalletSession<C>> {
    if (!account.credentialId) {
      throw new AuthError('wallet_credential_missing', `${d.api.provider} account ${account.id} has no provider credential`);
    }
    const stored = await readCredential<unknown>(d.pool, d.cipher, account.credentialId);
    if (!stored) throw new AuthError('wallet_credential_missing', `${d.api.provider} credential of account ${account.id} was removed`);
    return new WalletSession(d, account, stored.id, d.api.parseCredential(stored.secret));
  }

  /**
   * Runs `fn` with a valid token for the product of `op`, refreshing on a token rejection. Only a
   * token issued for this call and then refused is conclusive (`AuthError`): a token another run
   * refreshed and cached may have expired since (a provider that revokes tokens early), so a
   * refused cached token earns one more refresh of its own.
   */
  async call<T>(op: ReferenceKind | 'balance', signal: AbortSignal, fn: (call: WalletCall<C>) => Promise<T>): Promise<T> {
    const { api, tokens } = this.d;
    const product = api.productFor(op);
    const key: TokenKey = { provider: api.provider, credentialId: this.credentialId, product };
    let issuedForThisCall = false;
    const fetch = (s?: AbortSignal) => {
      issuedForThisCall = true;
      return api.requestToken(this.credential, product, s ?? signal);
    };
    const make = (token: string): WalletCall<C> => ({ account: this.account, credential: this.credential, token, product, signal });
    let token = (await tokens.get(key, fetch, signal)).token;
    // The first try, then at most two refreshes: the second only when the first refresh came from the cache.
    for (let refreshes = 0; ; refreshes++) {
      try {
        return await fn(make(token));
      } catch (err) {
        if (!(err instanceof TokenRejectedError)) throw err;
        if (refreshes === 2 || (refreshes === 1 && issuedForThisCall)) {
          throw new AuthError(
            err.code,
            `${api.provider} rejected a freshly issued ${product} token: the credentials were revoked or expired`,
          );
        }
      }
      issuedForThisCall = false;
      token = (await tokens.refreshAfterRejection(key, token, fetch, signal)).token;
    }
  }
}
