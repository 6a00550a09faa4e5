import { moneyFromMinor, type CanonicalTransaction, type TransactionStatus } from '@intellifin/domain';
import { upsertTransactions, type Pool } from '@intellifin/persistence';
import { bearer, seedOrg, startApi, token, type ApiEnv, type Org } from './helpers';

/**
 * The transactions delta feed against real Postgres: writes go through the persistence upsert the
 * workers use (as intellifin_worker), reads through the API (as intellifin_api, org-scoped).
 */
describe('GET /v1/accounts/:id/transactions/changes', () => {
  let env: ApiEnv;
  let a: Org;
  let b: Org;
  let worker: Pool;
  let userA: string;
  let account: string;

  const txn = (
    id: string,
    minor: number,
    status: TransactionStatus = 'posted',
    extra: Partial<CanonicalTransaction> = {},
  ): CanonicalTransaction => ({
    providerTxnId: id,
    amount: moneyFromMinor(BigInt(minor), 'ZMW'),
    direction: minor % 2 === 0 ? 'debit' : 'credit',
    status,
    bookedAt: new Date(Date.UTC(2026, 0, 1) + minor * 60_000),
    narration: `txn ${id}`,
    counterparty: { name: 'Shoprite', account: '0977123456' },
    raw: { id },
    ...extra,
  });
  const write = (accountId: string, orgId: string, txns: CanonicalTransaction[]) => upsertTransactions(worker, { orgId, accountId }, txns);

  interface Page {
    added: { id: string; amount: string; status: string; currency: string }[];
    modified: { id: string; amount: string; status: string }[];
    removed: string[];
    nextCursor: string;
    hasMore: boolean;
  }
  const page = async (cursor: string, limit = 100, auth = userA, accountId = account): Promise<Page> => {
    const res = await env.http({
      url: `/v1/accounts/${accountId}/transactions/changes?cursor=${encodeURIComponent(cursor)}&limit=${limit}`,
      headers: bearer(auth),
    });
    expect(res.statusCode).toBe(200);
    return res.json();
  };
  /**
   * Pages from `cursor` until hasMore is false, and again (briefly) until `until` holds: the feed
   * only serves commits below the oldest in-flight writer of the whole cluster, which on this
   * shared machine may be another test's transaction for a moment.
   */
  const drain = async (cursor: string, until: (all: Page[]) => boolean, limit = 100): Promise<{ pages: Page[]; cursor: string }> => {
    const pages: Page[] = [];
    const deadline = Date.now() + 30_000;
    for (;;) {
      const p = await page(cursor, limit);
      pages.push(p);
      cursor = p.nextCursor;
      if (p.hasMore) continue;
      if (until(pages) || Date.now() > deadline) return { pages, cursor };
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const ids = (pages: Page[], kind: 'added' | 'modified') => pages.flatMap((p) => p[kind].map((t) => t.id));

  beforeAll(async () => {
    env = await startApi();
    a = await seedOrg(env.db, 'Org A', 1);
    b = await seedOrg(env.db, 'Org B', 1);
    worker = env.db.poolAs('intellifin_worker');
    userA = await token({ orgId: a.orgId, sub: 'user-1' });
    account = a.accounts[0]!;
  });
  afterAll(async () => env?.close());

  let cursor = '';
  const all = Array.from({ length: 230 }, (_, i) => txn(`t${String(i).padStart(4, '0')}`, 1000 + i, i % 10 === 0 ? 'pending' : 'posted'));

  it('paged through from an empty cursor equals the account’s transactions, each once, as added', async () => {
    expect(await write(account, a.orgId, all)).toEqual({ added: 230, modified: 0, unchanged: 0 });
    await write(a.accounts[1]!, a.orgId, [txn('other-user', 5)]); // another user's account: not in this feed
    await write(b.accounts[0]!, b.orgId, [txn('org-b', 7)]);
    const r = await drain('', (pages) => ids(pages, 'added').length >= 230, 70);
    const added = ids(r.pages, 'added');
    expect(r.pages.length).toBeGreaterThanOrEqual(4); // 230 rows in pages of 70
    expect(new Set(added).size).toBe(added.length);
    expect(added.sort()).toEqual(all.map((t) => t.providerTxnId).sort());
    expect(ids(r.pages, 'modified')).toEqual([]);
    expect(r.pages.flatMap((p) => p.removed)).toEqual([]);
    const first = r.pages.flatMap((p) => p.added).find((t) => t.id === 't0001')!;
    expect(first).toEqual({
      id: 't0001',
      amount: '1001',
      currency: 'ZMW',
      direction: 'credit',
      status: 'posted',
      bookedAt: new Date(Date.UTC(2026, 0, 1) + 1001 * 60_000).toISOString(),
      narration: 'txn t0001',
      counterparty: 'Shoprite', // the name only: never the counterparty's account number
    });
    cursor = r.cursor;
    // Caught up: the same cursor gives nothing new and is handed back.
    const again = await page(cursor);
    expect(again).toEqual({ added: [], modified: [], removed: [], nextCursor: cursor, hasMore: false });
    // A phone polling with the same cursor gets a 304 while nothing changed.
    const url = `/v1/accounts/${account}/transactions/changes?cursor=${cursor}`;
    const tagged = await env.http({ url, headers: bearer(userA) });
    const etag = String(tagged.headers.etag);
    expect((await env.http({ url, headers: { ...bearer(userA), 'if-none-match': etag } })).statusCode).toBe(304);
  });

  it('after a modification and a removal, the next page carries exactly those', async () => {
    const changed = txn('t0010', 1010, 'posted'); // was pending
    const gone = txn('t0020', 1020, 'removed'); // was pending, the provider dropped it
    // The worker re-reads the whole window: everything else comes back unchanged.
    const counts = await write(
      account,
      a.orgId,
      all.map((t) => (t.providerTxnId === 't0010' ? changed : t.providerTxnId === 't0020' ? gone : t)),
    );
    expect(counts).toEqual({ added: 0, modified: 2, unchanged: 228 });
    const r = await drain(cursor, (pages) => ids(pages, 'modified').length + pages.flatMap((p) => p.removed).length >= 2);
    expect(ids(r.pages, 'added')).toEqual([]);
    expect(r.pages.flatMap((p) => p.modified)).toEqual([expect.objectContaining({ id: 't0010', status: 'posted', amount: '1010' })]);
    expect(r.pages.flatMap((p) => p.removed)).toEqual(['t0020']);
    cursor = r.cursor;
  });

  it('a new transaction is added; one added and removed before the client looked is not mentioned', async () => {
    await write(account, a.orgId, [txn('new-1', 42)]);
    await write(account, a.orgId, [txn('flash', 43, 'pending')]);
    await write(account, a.orgId, [txn('flash', 43, 'removed')]);
    const r = await drain(cursor, (pages) => ids(pages, 'added').includes('new-1'));
    expect(ids(r.pages, 'added')).toEqual(['new-1']);
    expect(ids(r.pages, 'modified')).toEqual([]);
    expect(r.pages.flatMap((p) => p.removed)).toEqual([]);
    cursor = r.cursor;
  });

  it('never passes a change that commits late with a lower change_version (out-of-order commits)', async () => {
    const slow = await worker.connect();
    try {
      await slow.query('BEGIN');
      await upsertTransactions(slow, { orgId: a.orgId, accountId: account }, [txn('slow', 50)]); // draws its version first
      await write(account, a.orgId, [txn('fast', 51)]); // draws a higher version and commits first
      const versions = await env.db.pool.query<{ provider_txn_id: string; change_version: string }>(
        `SELECT provider_txn_id, change_version FROM transactions WHERE account_id = $1 AND provider_txn_id = 'fast'`,
        [account],
      );
      expect(versions.rows).toHaveLength(1); // 'slow' is not committed yet
      // While the slow writer is in flight, the feed holds its position below it: 'fast' waits.
      const during = await page(cursor);
      expect(during.added).toEqual([]);
      expect(during.nextCursor).toBe(cursor);
      await slow.query('COMMIT');
    } finally {
      slow.release();
    }
    const order = await env.db.pool.query<{ provider_txn_id: string }>(
      `SELECT provider_txn_id FROM transactions WHERE account_id = $1 AND provider_txn_id IN ('slow', 'fast') ORDER BY change_version`,
      [account],
    );
    expect(order.rows.map((r) => r.provider_txn_id)).toEqual(['slow', 'fast']); // the race a version cursor would lose 'slow' to
    const r = await drain(cursor, (pages) => ids(pages, 'added').length >= 2);
    expect(ids(r.pages, 'added').sort()).toEqual(['fast', 'slow']);
  });

  it('scopes by organisation and owner, and validates the cursor and limit', async () => {
    expect((await env.http({ url: `/v1/accounts/${b.accounts[0]}/transactions/changes`, headers: bearer(userA) })).statusCode).toBe(404);
    // user-1 does not own user-2's account; an admin of the organisation reads it.
    expect((await env.http({ url: `/v1/accounts/${a.accounts[1]}/transactions/changes`, headers: bearer(userA) })).statusCode).toBe(404);
    const admin = await token({ orgId: a.orgId, sub: 'admin-1', roles: ['admin'] });
    expect((await page('', 100, admin, a.accounts[1]!)).added.map((t) => t.id)).toEqual(['other-user']);
    expect((await env.http({ url: `/v1/accounts/${account}/transactions/changes` })).statusCode).toBe(401);
    const bad: [string, string][] = [
      ['cursor=not-a-cursor', 'querystring.cursor'],
      [`cursor=${Buffer.from(JSON.stringify({ v: 1, x: '-1', i: '0' })).toString('base64url')}`, 'querystring.cursor'],
      [`cursor=${Buffer.from(JSON.stringify({ v: 1, x: '99999999999999999999', i: '0' })).toString('base64url')}`, 'querystring.cursor'],
      ['limit=0', 'querystring.limit'],
      ['limit=501', 'querystring.limit'],
      ['since=1', 'querystring'],
    ];
    for (const [q, field] of bad) {
      const res = await env.http({ url: `/v1/accounts/${account}/transactions/changes?${q}`, headers: bearer(userA) });
      expect([q, res.statusCode]).toEqual([q, 400]);
      expect(res.json().message).toContain(field);
    }
    expect((await env.http({ url: `/v1/accounts/not-a-uuid/transactions/changes`, headers: bearer(userA) })).statusCode).toBe(400);
  });
});
