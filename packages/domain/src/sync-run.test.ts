import {
  SYNC_MODES,
  ZERO_COUNTS,
  addCounts,
  assertValidCounts,
  isSyncMode,
  mergeScopes,
  scopeCovers,
  totalCount,
  type SyncScope,
} from './sync-run';

const all: SyncScope[] = SYNC_MODES.flatMap((mode) => [false, true].map((realtime) => ({ mode, realtime })));

describe('scopeCovers', () => {
  it('a scope covers itself', () => {
    for (const s of all) expect(scopeCovers(s, s)).toBe(true);
  });

  it('full covers transactions and balance; neither covers the other or full', () => {
    expect(scopeCovers({ mode: 'full', realtime: false }, { mode: 'transactions', realtime: false })).toBe(true);
    expect(scopeCovers({ mode: 'full', realtime: false }, { mode: 'balance', realtime: false })).toBe(true);
    expect(scopeCovers({ mode: 'transactions', realtime: false }, { mode: 'balance', realtime: false })).toBe(false);
    expect(scopeCovers({ mode: 'balance', realtime: false }, { mode: 'transactions', realtime: false })).toBe(false);
    expect(scopeCovers({ mode: 'transactions', realtime: true }, { mode: 'full', realtime: false })).toBe(false);
  });

  it('a cached run does not cover a real-time request (manual "Sync now" during a scheduled run)', () => {
    expect(scopeCovers({ mode: 'full', realtime: false }, { mode: 'transactions', realtime: true })).toBe(false);
    expect(scopeCovers({ mode: 'transactions', realtime: true }, { mode: 'transactions', realtime: false })).toBe(true);
  });
});

describe('mergeScopes', () => {
  it('the merge covers both inputs and is the smallest such scope', () => {
    for (const a of all) {
      for (const b of all) {
        const m = mergeScopes(a, b);
        expect(scopeCovers(m, a)).toBe(true);
        expect(scopeCovers(m, b)).toBe(true);
        // minimal: no strictly smaller scope covers both
        for (const c of all) {
          if (scopeCovers(c, a) && scopeCovers(c, b)) expect(scopeCovers(c, m)).toBe(true);
        }
      }
    }
  });

  it('transactions + balance = full', () => {
    expect(mergeScopes({ mode: 'transactions', realtime: false }, { mode: 'balance', realtime: true })).toEqual({
      mode: 'full',
      realtime: true,
    });
  });
});

describe('counts', () => {
  it('adds and totals', () => {
    const c = addCounts({ added: 2, modified: 1, unchanged: 5 }, { added: 1, modified: 0, unchanged: 3 });
    expect(c).toEqual({ added: 3, modified: 1, unchanged: 8 });
    expect(totalCount(c)).toBe(12);
    expect(addCounts(ZERO_COUNTS, c)).toEqual(c);
  });

  it('rejects negative or fractional counts', () => {
    expect(() => assertValidCounts({ added: -1, modified: 0, unchanged: 0 })).toThrow(/added/);
    expect(() => assertValidCounts({ added: 0, modified: 0.5, unchanged: 0 })).toThrow(/modified/);
    expect(() => assertValidCounts({ added: 0, modified: 0, unchanged: 3 })).not.toThrow();
  });

  it('validates modes', () => {
    expect(isSyncMode('full')).toBe(true);
    expect(isSyncMode('delta')).toBe(false);
  });
});
