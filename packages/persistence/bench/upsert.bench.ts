/**
 * Transaction upsert throughput: 200,000 input rows of which 25 % repeat an earlier row, written
 * the way sync runs write them (one account page of 5,000 rows per fenced DB transaction, 1,000 rows
 * per statement), on 1 and 2 concurrent connections. Prints input rows/s and the counts.
 *
 *   npm run bench:upsert            (uses DATABASE_URL, else the local server, else a container)
 */
import type { CanonicalTransaction } from '@intellifin/domain';
import { createTestDatabase, startInfrastructure } from '@intellifin/testing';
import { commitPage, insertAccount, insertOrganization, takeFence, type UpsertCounts } from '../src';

const TOTAL = 200_000;
const DUPLICATE_SHARE = 0.25;
const PAGE = 5_000;
const ACCOUNTS = 10;

function makeInput(seed: number): { accountIndex: number; txn: CanonicalTransaction }[] {
  let s = seed >>> 0; // mulberry32
  const rnd = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const distinct = Math.round(TOTAL * (1 - DUPLICATE_SHARE));
  const rows: { accountIndex: number; txn: CanonicalTransaction }[] = [];
  for (let i = 0; i < distinct; i++) {
    rows.push({
      accountIndex: i % ACCOUNTS,
      txn: {
        providerTxnId: `txn_${i.toString(36).padStart(8, '0')}`,
        amount: { minor: BigInt(Math.floor(rnd() * 5_000_000)), currency: 'ZMW' },
        direction: rnd() < 0.6 ? 'debit' : 'credit',
        status: rnd() < 0.1 ? 'pending' : 'posted',
        bookedAt: new Date(Date.UTC(2026, 9, 1) + Math.floor(rnd() * 50 * 86_400_000)),
        narration: `POS PURCHASE SHOPRITE LUSAKA ${i}`,
        counterparty: { name: 'Shoprite Holdings' },
        balanceAfter: { minor: BigInt(Math.floor(rnd() * 90_000_000)), currency: 'ZMW' },
        raw: { _id: i, narration: `POS PURCHASE ${i}`, amount: 1234, type: 'debit' },
      },
    });
  }
  // Duplicates repeat rows an earlier page already delivered (late re-fetches inside the overlap
  // window): taken from the first quarter of the stream, placed somewhere in its second half.
  const withDupes = [...rows];
  for (let d = 0; d < TOTAL - distinct; d++) {
    const at = Math.floor(withDupes.length / 2 + rnd() * (withDupes.length / 2));
    withDupes.splice(at, 0, rows[Math.floor(rnd() * (distinct / 4))]!);
  }
  return withDupes;
}

async function run(concurrency: number): Promise<{ seconds: number; counts: UpsertCounts }> {
  const db = await createTestDatabase({ poolSize: concurrency + 1 });
  try {
    const orgId = await insertOrganization(db.pool, 'bench');
    const accounts = [];
    for (let a = 0; a < ACCOUNTS; a++) {
      const acct = await insertAccount(db.pool, {
        orgId,
        provider: 'mono',
        providerAccountId: `bench_${a}`,
        type: 'bank',
        currency: 'ZMW',
      });
      accounts.push({ ...acct, fence: (await takeFence(db.pool, acct.id))!.fence });
    }
    const input = makeInput(42);
    // Split the stream into per-account pages, preserving order.
    const pages: { account: (typeof accounts)[number]; txns: CanonicalTransaction[] }[] = [];
    const open = new Map<number, CanonicalTransaction[]>();
    for (const { accountIndex, txn } of input) {
      const page = open.get(accountIndex) ?? [];
      page.push(txn);
      open.set(accountIndex, page);
      if (page.length === PAGE) {
        pages.push({ account: accounts[accountIndex]!, txns: page });
        open.delete(accountIndex);
      }
    }
    for (const [i, txns] of open) pages.push({ account: accounts[i]!, txns });

    const counts: UpsertCounts = { added: 0, modified: 0, unchanged: 0 };
    let next = 0;
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < pages.length) {
          const { account, txns } = pages[next++]!;
          const { counts: c } = await commitPage(db.pool, {
            orgId,
            accountId: account.id,
            fence: account.fence,
            cursor: {},
            transactions: txns,
          });
          counts.added += c.added;
          counts.modified += c.modified;
          counts.unchanged += c.unchanged;
        }
      }),
    );
    return { seconds: Number(process.hrtime.bigint() - started) / 1e9, counts };
  } finally {
    await db.drop();
  }
}

async function main() {
  await startInfrastructure();
  console.log(`upsert bench: ${TOTAL} input rows, ${DUPLICATE_SHARE * 100}% duplicates, pages of ${PAGE}, ${ACCOUNTS} accounts`);
  for (const concurrency of [1, 2]) {
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await run(concurrency));
    results.sort((a, b) => a.seconds - b.seconds);
    const median = results[1]!;
    console.log(
      `connections=${concurrency}  median ${(TOTAL / median.seconds).toFixed(0)} input rows/s  (${median.seconds.toFixed(2)} s; ` +
        `runs ${results.map((r) => (TOTAL / r.seconds).toFixed(0)).join(', ')})  counts ${JSON.stringify(median.counts)}`,
    );
  }
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
