import { listRuns } from '@intellifin/persistence';
import { quiesce, requestLog, startEnv, type Env } from './helpers';

/**
 * Issue #10, re-auth links: a manual, non-real-time command for an `auth_required` account reuses
 * the stored re-link URL until it expires (MONO_REAUTH_LINK_TTL_MS, 10 min by default, on the
 * simulator's manual clock) instead of asking Mono for a new one on every attempt; after expiry it
 * asks again. Counted in the simulator's request log (`POST /v2/accounts/initiate`).
 */
describe('Mono re-auth link reuse', () => {
  let env: Env;
  beforeAll(async () => {
    env = await startEnv({ accounts: 2, transactionsPerAccount: 12 });
    await env.startWorker();
    for (const pid of env.accounts.keys()) await env.publish(pid);
    await quiesce(env);
  });
  afterAll(async () => env?.close());

  it('reuses the stored link until it expires, then asks Mono for a new one', async () => {
    const pid = [...env.accounts.keys()][0]!;
    const id = env.accounts.get(pid)!;
    const initiates = async () => (await requestLog(env, pid)).filter((r) => r.method === 'POST' && r.route === '/v2/accounts/initiate');
    const account = async () =>
      (await env.db.pool.query('SELECT status, reauth_url, reauth_url_expires_at FROM accounts WHERE id = $1', [id])).rows[0] as {
        status: string;
        reauth_url: string | null;
        reauth_url_expires_at: Date | null;
      };
    const manual = async () => {
      // Past the legacy sync's one-per-2-minutes limit, so the consent probe answers REAUTHORISATION_REQUIRED.
      await env.control('POST', '/clock/advance', { minutes: 3 });
      await env.publish(pid, { trigger: 'manual', realtime: false });
      await quiesce(env);
      const [run] = await listRuns(env.db.pool, id, { limit: 1 });
      expect(run).toMatchObject({ trigger: 'manual', outcome: 'failed', errorKind: 'auth', errorCode: 'REAUTHORISATION_REQUIRED' });
    };

    // Consent revoked; a real-time "Sync now" finds out: auth_required with a link valid for 10 minutes.
    await env.control('POST', `/accounts/${pid}/revoke`, { mode: 'reauth', notify: false });
    const t0 = Date.parse((await env.control<{ now: string }>('GET', '/clock')).now);
    await env.publish(pid, { trigger: 'manual', realtime: true });
    await quiesce(env);
    const first = await account();
    expect(first.status).toBe('auth_required');
    expect(first.reauth_url).toMatch(new RegExp(`^${env.mono.url}/__sandbox/link/`));
    expect(first.reauth_url_expires_at!.getTime()).toBe(t0 + 10 * 60_000);
    expect(await initiates()).toHaveLength(1);

    // Two manual attempts at +3 and +6 minutes: the link still works, Mono is not asked again.
    await manual();
    await manual();
    expect(await initiates()).toHaveLength(1);
    expect(await account()).toEqual(first);

    // +9 minutes: still inside the 10 minutes. +12: expired, so a new link is requested and stored.
    await manual();
    expect(await initiates()).toHaveLength(1);
    await manual();
    expect(await initiates()).toHaveLength(2);
    const renewed = await account();
    expect(renewed.status).toBe('auth_required');
    expect(renewed.reauth_url).not.toBe(first.reauth_url);
    expect(renewed.reauth_url_expires_at!.getTime()).toBe(t0 + 12 * 60_000 + 10 * 60_000);

    // And that one is reused in turn.
    await manual();
    expect(await initiates()).toHaveLength(2);
    expect(await account()).toEqual(renewed);
  });
});
