import { DomainError } from './errors';
import {
  MAX_PENDING_REFS,
  addPendingRefs,
  advanceMonoCursor,
  applyPolledStatuses,
  cursorToJson,
  emptyCursor,
  MAX_WATCHED_PENDING,
  nextMonoWindow,
  nextPendingWatch,
  parseCursor,
  windowCovers,
  type WatchedPendingRow,
  removePendingRefs,
  type MonoCursor,
  type PendingRefsCursor,
} from './sync-cursor';

const now = new Date('2025-10-15T09:30:00Z');
const mono = (highWaterDate: string | null): MonoCursor => ({ v: 1, kind: 'mono', highWaterDate, lastWindow: null });
const refs = (pendingRefs: string[], kind: 'momo' | 'airtel' = 'momo'): PendingRefsCursor => ({ v: 1, kind, pendingRefs });

describe('empty cursors', () => {
  it('has the right shape per provider', () => {
    expect(emptyCursor('mono')).toEqual({ v: 1, kind: 'mono', highWaterDate: null, lastWindow: null });
    expect(emptyCursor('momo')).toEqual({ v: 1, kind: 'momo', pendingRefs: [] });
    expect(emptyCursor('airtel')).toEqual({ v: 1, kind: 'airtel', pendingRefs: [] });
  });
});

describe('nextMonoWindow', () => {
  it('first sync reaches back the configured history horizon', () => {
    expect(nextMonoWindow(mono(null), now, { overlapDays: 3, historyDays: 90 })).toEqual({ from: '2025-07-17', to: '2025-10-15' });
    expect(nextMonoWindow(mono(null), now, { overlapDays: 3, historyDays: 30 })).toEqual({ from: '2025-09-15', to: '2025-10-15' });
  });

  it('incremental sync starts overlap days before the high-water date', () => {
    expect(nextMonoWindow(mono('2025-10-14'), now, { overlapDays: 3, historyDays: 90 })).toEqual({ from: '2025-10-11', to: '2025-10-15' });
    expect(nextMonoWindow(mono('2025-10-14'), now, { overlapDays: 0, historyDays: 90 })).toEqual({ from: '2025-10-14', to: '2025-10-15' });
    expect(nextMonoWindow(mono('2025-03-02'), new Date('2025-03-05T00:00:00Z'), { overlapDays: 2, historyDays: 90 }).from).toBe(
      '2025-02-28',
    );
  });

  it('a long-idle account catches up from its high-water date, not from the history horizon', () => {
    expect(nextMonoWindow(mono('2025-01-01'), now, { overlapDays: 3, historyDays: 90 }).from).toBe('2024-12-29');
  });

  it('never returns an inverted window when the high-water date is in the future', () => {
    const w = nextMonoWindow(mono('2025-10-30'), now, { overlapDays: 3, historyDays: 90 });
    expect(w).toEqual({ from: '2025-10-15', to: '2025-10-15' });
  });

  it('uses the UTC date of now', () => {
    expect(nextMonoWindow(mono('2025-10-14'), new Date('2025-10-15T23:59:59.999Z')).to).toBe('2025-10-15');
    expect(nextMonoWindow(mono('2025-10-14'), new Date('2025-10-16T00:00:00.000Z')).to).toBe('2025-10-16');
  });

  it('validates options', () => {
    expect(() => nextMonoWindow(mono(null), now, { overlapDays: -1, historyDays: 90 })).toThrow(DomainError);
    expect(() => nextMonoWindow(mono(null), now, { overlapDays: 1.5, historyDays: 90 })).toThrow(DomainError);
    expect(() => nextMonoWindow(mono(null), now, { overlapDays: 1, historyDays: 0 })).toThrow(DomainError);
  });
});

describe('advanceMonoCursor', () => {
  it('moves the high-water date to the end of the completed window and records it', () => {
    const c = advanceMonoCursor(mono(null), { from: '2025-07-17', to: '2025-10-15' });
    expect(c).toEqual({ v: 1, kind: 'mono', highWaterDate: '2025-10-15', lastWindow: { from: '2025-07-17', to: '2025-10-15' } });
  });

  it('never moves the high-water date backwards', () => {
    const c = advanceMonoCursor(mono('2025-10-15'), { from: '2025-10-01', to: '2025-10-10' });
    expect(c.highWaterDate).toBe('2025-10-15');
    expect(c.lastWindow).toEqual({ from: '2025-10-01', to: '2025-10-10' });
  });

  it('is monotonic over any sequence of windows', () => {
    let c = mono(null);
    let previous = '';
    const ends = ['2025-10-05', '2025-10-01', '2025-10-09', '2025-10-09', '2025-09-01', '2025-11-01', '2025-10-20'];
    for (const to of ends) {
      c = advanceMonoCursor(c, { from: '2025-08-01', to });
      expect(c.highWaterDate! >= previous).toBe(true);
      previous = c.highWaterDate!;
    }
    expect(c.highWaterDate).toBe('2025-11-01');
  });

  it('window → advance → window gives the overlap as next start', () => {
    const w1 = nextMonoWindow(mono(null), now);
    const c1 = advanceMonoCursor(mono(null), w1);
    const w2 = nextMonoWindow(c1, new Date('2025-10-16T09:30:00Z'), { overlapDays: 3, historyDays: 90 });
    expect(w2).toEqual({ from: '2025-10-12', to: '2025-10-16' });
  });

  it('rejects inverted or malformed windows', () => {
    expect(() => advanceMonoCursor(mono(null), { from: '2025-10-16', to: '2025-10-15' })).toThrow(/after/);
    expect(() => advanceMonoCursor(mono(null), { from: '2025-10-16', to: '15-10-2025' })).toThrow(DomainError);
  });
});

describe('pending reference cursors', () => {
  it('adds references keeping the set sorted and unique', () => {
    const c = addPendingRefs(refs(['b']), ['c', 'a', 'b', 'a']);
    expect(c.pendingRefs).toEqual(['a', 'b', 'c']);
    expect(c.kind).toBe('momo');
  });

  it('removes terminal references', () => {
    expect(removePendingRefs(refs(['a', 'b', 'c'], 'airtel'), ['b', 'zz'])).toEqual(refs(['a', 'c'], 'airtel'));
  });

  it('applies polled statuses: terminal leave, pending stay or join', () => {
    const c = applyPolledStatuses(
      refs(['a', 'b']),
      new Map([
        ['a', true],
        ['b', false],
        ['n', false],
        ['t', true],
      ]),
    );
    expect(c.pendingRefs).toEqual(['b', 'n']);
  });

  it('does not mutate its input', () => {
    const original = refs(['a']);
    addPendingRefs(original, ['b']);
    removePendingRefs(original, ['a']);
    expect(original.pendingRefs).toEqual(['a']);
  });

  it('rejects empty references and an unbounded set', () => {
    expect(() => addPendingRefs(refs([]), [''])).toThrow(DomainError);
    const many = Array.from({ length: MAX_PENDING_REFS }, (_, i) => `r${i}`);
    expect(() => addPendingRefs(refs(many), ['one-more'])).toThrow(/more than/);
  });
});

describe('cursor JSON', () => {
  it('round-trips every kind through a JSON string', () => {
    const cursors = [
      emptyCursor('mono'),
      advanceMonoCursor(mono('2025-10-01'), { from: '2025-09-28', to: '2025-10-15' }),
      refs(['ref-1', 'ref-2']),
      refs([], 'airtel'),
    ];
    for (const c of cursors) {
      const stored = JSON.stringify(cursorToJson(c));
      expect(parseCursor(stored, c.kind)).toEqual(c);
      expect(parseCursor(JSON.parse(stored), c.kind)).toEqual(c);
    }
  });

  it('gives the empty cursor for a new account', () => {
    expect(parseCursor(null, 'mono')).toEqual(emptyCursor('mono'));
    expect(parseCursor(undefined, 'airtel')).toEqual(emptyCursor('airtel'));
  });

  it('canonicalises a stored reference set', () => {
    expect(parseCursor({ v: 1, kind: 'momo', pendingRefs: ['b', 'a', 'b'] }, 'momo')).toEqual(refs(['a', 'b']));
  });

  it.each([
    ['not JSON', '{oops', 'mono'],
    ['an array', [], 'mono'],
    ['a number', 5, 'mono'],
    ['no version', { kind: 'mono', highWaterDate: null, lastWindow: null }, 'mono'],
    ['a future version', { v: 2, kind: 'mono', highWaterDate: null, lastWindow: null }, 'mono'],
    ['another provider', { v: 1, kind: 'momo', pendingRefs: [] }, 'airtel'],
    ['a mono cursor on a momo account', { v: 1, kind: 'mono', highWaterDate: null, lastWindow: null }, 'momo'],
    ['a bad date', { v: 1, kind: 'mono', highWaterDate: '2025-02-30', lastWindow: null }, 'mono'],
    ['a bad window', { v: 1, kind: 'mono', highWaterDate: null, lastWindow: { from: '2025-10-10', to: '2025-10-01' } }, 'mono'],
    ['a window that is not an object', { v: 1, kind: 'mono', highWaterDate: null, lastWindow: 'x' }, 'mono'],
    ['refs not an array', { v: 1, kind: 'momo', pendingRefs: 'a' }, 'momo'],
    ['a non-string ref', { v: 1, kind: 'momo', pendingRefs: ['a', 7] }, 'momo'],
    ['an empty ref', { v: 1, kind: 'momo', pendingRefs: [''] }, 'momo'],
    ['pending not an array', { v: 1, kind: 'mono', highWaterDate: null, lastWindow: null, pending: {} }, 'mono'],
    [
      'a pending row without a date',
      { v: 1, kind: 'mono', highWaterDate: null, lastWindow: null, pending: [{ id: 'a', row: {} }] },
      'mono',
    ],
    [
      'a pending id twice',
      {
        v: 1,
        kind: 'mono',
        highWaterDate: null,
        lastWindow: null,
        pending: [
          { id: 'a', at: '2025-10-01T00:00:00Z', row: {} },
          { id: 'a', at: '2025-10-02T00:00:00Z', row: {} },
        ],
      },
      'mono',
    ],
    [
      'a pending row payload that is not an object',
      { v: 1, kind: 'mono', highWaterDate: null, lastWindow: null, pending: [{ id: 'a', at: '2025-10-01T00:00:00Z', row: 'x' }] },
      'mono',
    ],
  ] as const)('rejects %s', (_label, value, provider) => {
    try {
      parseCursor(value, provider);
      throw new Error('expected a throw');
    } catch (err) {
      expect(err).toBeInstanceOf(DomainError);
      expect((err as DomainError).code).toBe('invalid_cursor');
    }
  });

  it('refuses to serialise an invalid cursor', () => {
    expect(() => cursorToJson({ v: 1, kind: 'mono', highWaterDate: 'soon', lastWindow: null })).toThrow(DomainError);
  });
});

describe('pending watch (Mono)', () => {
  const w = (id: string, at: string): WatchedPendingRow => ({ id, at, row: { id, date: at, narration: 'POS AUTH X' } });

  it('a cursor stored before the watch existed parses unchanged (no pending key) and round-trips with one', () => {
    const old = { v: 1, kind: 'mono', highWaterDate: '2025-10-10', lastWindow: { from: '2025-10-07', to: '2025-10-10' } };
    expect(parseCursor(old, 'mono')).toEqual(old);
    expect(cursorToJson(parseCursor(old, 'mono'))).toEqual(old);
    const withWatch = advanceMonoCursor(mono('2025-10-10'), { from: '2025-10-07', to: '2025-10-15' }, [
      w('p1', '2025-10-12T10:00:00.000Z'),
    ]);
    expect(parseCursor(JSON.stringify(cursorToJson(withWatch)), 'mono')).toEqual(withWatch);
    // advancing without a new watch keeps the old one; an empty watch drops the key
    expect(advanceMonoCursor(withWatch, { from: '2025-10-12', to: '2025-10-15' }).pending).toEqual(withWatch.pending);
    expect(advanceMonoCursor(withWatch, { from: '2025-10-12', to: '2025-10-15' }, [])).not.toHaveProperty('pending');
  });

  it('the window reaches back to the day before the oldest watched row, bounded by pendingWatchDays', () => {
    const c: MonoCursor = { ...mono('2025-10-14'), pending: [w('a', '2025-10-12T08:00:00Z'), w('b', '2025-10-01T08:00:00Z')] };
    expect(nextMonoWindow(c, now, { overlapDays: 3, historyDays: 90 })).toEqual({ from: '2025-09-30', to: '2025-10-15' });
    expect(nextMonoWindow(c, now, { overlapDays: 3, historyDays: 90, pendingWatchDays: 5 })).toEqual({
      from: '2025-10-10',
      to: '2025-10-15',
    });
    // a recent watched row never shortens the overlap
    const recent: MonoCursor = { ...mono('2025-10-14'), pending: [w('a', '2025-10-14T08:00:00Z')] };
    expect(nextMonoWindow(recent, now, { overlapDays: 3, historyDays: 90 })).toEqual({ from: '2025-10-11', to: '2025-10-15' });
    expect(() => nextMonoWindow(c, now, { overlapDays: 3, historyDays: 90, pendingWatchDays: 0 })).toThrow(DomainError);
  });

  it('judges only rows whose date is strictly inside the window', () => {
    const win = { from: '2025-10-01', to: '2025-10-15' };
    expect(windowCovers(win, '2025-10-02T00:00:00Z')).toBe(true);
    expect(windowCovers(win, '2025-10-01T23:59:59Z')).toBe(false);
    expect(windowCovers(win, '2025-10-15T01:00:00Z')).toBe(false);
  });

  it('a watched row the read did not return is gone only if the window covers it; posted rows leave; new pending rows join', () => {
    const win = { from: '2025-10-05', to: '2025-10-15' };
    const prev = [
      w('released', '2025-10-10T08:00:00Z'),
      w('posted', '2025-10-09T08:00:00Z'),
      w('today', '2025-10-15T07:00:00Z'),
      w('old', '2025-09-01T08:00:00Z'),
    ];
    const fresh = w('new', '2025-10-14T08:00:00Z');
    const { watch, gone } = nextPendingWatch(prev, new Set(['posted', 'new']), [fresh], win, now, { overlapDays: 3, historyDays: 90 });
    expect(gone.map((g) => g.id)).toEqual(['released']);
    expect(watch.map((x) => x.id)).toEqual(['today', 'new']); // 'old' aged out of the 30-day watch
  });

  it('keeps at most MAX_WATCHED_PENDING rows, the newest', () => {
    const many = Array.from({ length: MAX_WATCHED_PENDING + 5 }, (_, i) =>
      w(`p${i}`, new Date(Date.parse('2025-10-14T00:00:00Z') - i * 60_000).toISOString()),
    );
    const { watch } = nextPendingWatch([], new Set(), many, { from: '2025-10-10', to: '2025-10-15' }, now);
    expect(watch).toHaveLength(MAX_WATCHED_PENDING);
    expect(watch[0]!.id).toBe('p0');
  });
});
