import type { AccountRef } from './account';
import { moneyFromMinor } from './money';
import { collectPages, reusableReauthLink, type FetchDeltaRequest, type ProviderPort, type TransactionPage } from './provider-port';
import { advanceMonoCursor, emptyCursor, nextMonoWindow, type MonoCursor } from './sync-cursor';
import type { CanonicalTransaction } from './transaction';

const account: AccountRef = {
  id: '00000000-0000-4000-8000-000000000001',
  orgId: '00000000-0000-4000-8000-0000000000aa',
  provider: 'mono',
  type: 'bank',
  currency: 'NGN',
  providerAccountId: 'mono-acc-1',
  status: 'active',
};

function row(i: number): CanonicalTransaction {
  return {
    providerTxnId: `t${i}`,
    amount: moneyFromMinor(BigInt(i * 100), 'NGN'),
    direction: 'credit',
    status: 'posted',
    bookedAt: new Date('2025-10-10T00:00:00Z'),
    narration: `row ${i}`,
    raw: { i },
  };
}

/** A fake Mono adapter written against the port, following its page/cursor contract. */
function fakeMono(pages: number, log: string[]): ProviderPort {
  return {
    provider: 'mono',
    async *fetchDelta(req: FetchDeltaRequest): AsyncIterable<TransactionPage> {
      const window = nextMonoWindow(req.cursor as MonoCursor, req.now);
      try {
        for (let p = 0; p < pages; p++) {
          if (req.signal.aborted) return;
          log.push(`fetch ${p}`);
          const last = p === pages - 1;
          yield {
            index: p,
            transactions: [row(p * 2), row(p * 2 + 1)],
            cursorAfter: last ? advanceMonoCursor(req.cursor as MonoCursor, window) : req.cursor,
            window,
          };
        }
      } finally {
        log.push('closed');
      }
    },
    async fetchBalance() {
      return { balance: moneyFromMinor(4523100n, 'NGN'), asOf: new Date('2025-10-15T00:00:00Z') };
    },
  };
}

function request(signal: AbortSignal): FetchDeltaRequest {
  const cursor = emptyCursor('mono') as MonoCursor;
  const now = new Date('2025-10-15T09:00:00Z');
  return { account, cursor, trigger: 'scheduled', mode: 'transactions', realtime: false, now, signal };
}

describe('provider port contract (with a fake adapter)', () => {
  it('collects all pages; only the last page advances the cursor', async () => {
    const log: string[] = [];
    const pages = await collectPages(fakeMono(3, log).fetchDelta(request(new AbortController().signal)));
    expect(pages.map((p) => p.index)).toEqual([0, 1, 2]);
    expect(pages.flatMap((p) => p.transactions.map((t) => t.providerTxnId))).toEqual(['t0', 't1', 't2', 't3', 't4', 't5']);
    expect((pages[0]!.cursorAfter as MonoCursor).highWaterDate).toBeNull();
    expect((pages[2]!.cursorAfter as MonoCursor).highWaterDate).toBe('2025-10-15');
    expect(log).toEqual(['fetch 0', 'fetch 1', 'fetch 2', 'closed']);
  });

  it('stops at a page boundary when the signal aborts, and the adapter gets to clean up', async () => {
    const log: string[] = [];
    const controller = new AbortController();
    const seen: number[] = [];
    for await (const page of fakeMono(5, log).fetchDelta(request(controller.signal))) {
      seen.push(page.index);
      if (page.index === 1) controller.abort();
      if (controller.signal.aborted) break;
    }
    expect(seen).toEqual([0, 1]);
    expect(log).toEqual(['fetch 0', 'fetch 1', 'closed']);
  });

  it('collectPages honours the signal between pages', async () => {
    const log: string[] = [];
    const controller = new AbortController();
    const port = fakeMono(5, log);
    const iterable: AsyncIterable<TransactionPage> = {
      async *[Symbol.asyncIterator]() {
        for await (const p of port.fetchDelta(request(controller.signal))) {
          yield p;
          controller.abort();
        }
      },
    };
    const pages = await collectPages(iterable, controller.signal);
    expect(pages).toHaveLength(1);
    expect(log).toEqual(['fetch 0', 'closed']);
  });
});

describe('reusableReauthLink', () => {
  const now = new Date('2026-03-02T10:00:00Z');
  it('reuses a stored link until it expires, never one without an expiry', () => {
    const expiresAt = new Date('2026-03-02T10:05:00Z');
    expect(reusableReauthLink({ reauthUrl: 'https://m/l/1', reauthUrlExpiresAt: expiresAt }, now)).toEqual({
      url: 'https://m/l/1',
      expiresAt,
    });
    expect(reusableReauthLink({ reauthUrl: 'https://m/l/1', reauthUrlExpiresAt: now }, now)).toBeNull();
    expect(reusableReauthLink({ reauthUrl: 'https://m/l/1', reauthUrlExpiresAt: null }, now)).toBeNull();
    expect(reusableReauthLink({ reauthUrl: null, reauthUrlExpiresAt: expiresAt }, now)).toBeNull();
  });
});
