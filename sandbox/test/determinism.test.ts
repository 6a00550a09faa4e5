/** Same seed ⇒ byte-identical truth and identical fault sequences; a different seed differs. */
import { startSandbox, type Sandbox } from '../src';
import { EPOCH, post } from './helpers';

async function run(seed: number): Promise<{ truth: string[]; faults: string }> {
  const sb: Sandbox = await startSandbox({
    seed,
    epoch: EPOCH,
    clock: 'manual',
    ports: { mono: 0, momo: 0, airtel: 0, onesignal: 0 },
    mono: { accounts: 4, transactionsPerAccount: 40 },
    momo: { accounts: 3 },
    airtel: { accounts: 3 },
    onesignal: {},
  });
  try {
    const truth: string[] = [];
    for (const url of [sb.mono.url, sb.momo.url, sb.airtel.url, sb.onesignal.url]) {
      await post(`${url}/__sandbox/clock/advance`, { minutes: 90 });
      truth.push(await (await fetch(`${url}/__sandbox/truth`)).text());
    }
    const accounts = (await (await fetch(`${sb.mono.url}/__sandbox/accounts`)).json()) as { accounts: { id: string }[] };
    await post(`${sb.mono.url}/__sandbox/faults`, {
      route: 'GET /v2/accounts/:id/transactions',
      kind: 'status',
      status: 503,
      probability: 0.35,
    });
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) {
      const id = accounts.accounts[i % 2]!.id;
      const r = await fetch(`${sb.mono.url}/v2/accounts/${id}/transactions?limit=1`, {
        headers: { 'mono-sec-key': 'test_sk_sandbox_mono' },
      });
      statuses.push(r.status);
      await r.arrayBuffer();
    }
    return { truth, faults: statuses.join(',') };
  } finally {
    await sb.close();
  }
}

test('same seed: byte-identical truth on every simulator and the same fault sequence', async () => {
  const a = await run(2024);
  const b = await run(2024);
  expect(a.truth).toEqual(b.truth);
  expect(a.faults).toBe(b.faults);
  expect(a.faults).toContain('503');
  expect(a.faults).toContain('200');
  const c = await run(2025);
  expect(c.truth[0]).not.toBe(a.truth[0]);
  expect(c.faults).not.toBe(a.faults);
});
