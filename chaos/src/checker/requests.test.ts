/**
 * The request-log rules on hand-written logs (no servers): what counts as an overlap and as a
 * Retry-After violation, and what does not.
 */
import { CONCURRENT_GRACE_MS, findOverlaps, retryAfterViolations } from './requests';
import type { LoggedRequest } from './sources';

const T0 = Date.parse('2026-03-02T10:00:00.000Z');
let seq = 0;
function req(o: Partial<LoggedRequest> & { at: number; dur?: number | null }): LoggedRequest {
  const { at, dur = 10, ...rest } = o;
  return {
    seq: ++seq,
    time: new Date(T0 + at).toISOString(),
    end: dur === null ? null : new Date(T0 + at + dur).toISOString(),
    method: 'GET',
    route: '/v2/accounts/:id/transactions',
    path: '/v2/accounts/a1/transactions',
    account: 'a1',
    status: 200,
    fence: '1',
    retryAfterMs: null,
    faults: [],
    ...rest,
  };
}

describe('findOverlaps', () => {
  test('back-to-back runs (one ends as the next starts) do not overlap; intersecting ones do, once per fence pair', () => {
    const log = [
      req({ at: 0, dur: 100, fence: '1' }),
      req({ at: 100, dur: 50, fence: '2' }),
      req({ at: 120, dur: 50, fence: '3' }),
      req({ at: 130, dur: 10, fence: '3' }),
    ];
    expect(findOverlaps('mono', log)).toEqual([{ provider: 'mono', account: 'a1', fences: ['2', '3'] }]);
  });

  test('one fence with concurrent requests is not an overlap; other accounts are independent', () => {
    const log = [req({ at: 0, dur: 100 }), req({ at: 10, dur: 100 }), req({ at: 20, dur: 100, fence: '2', account: 'a2' })];
    expect(findOverlaps('mono', log)).toEqual([]);
  });

  test('an exchange still open overlaps everything after it; requests without a fence are ignored', () => {
    const log = [req({ at: 0, dur: null, fence: '4' }), req({ at: 60_000, fence: '5' }), req({ at: 10, fence: null })];
    expect(findOverlaps('momo', log)).toEqual([{ provider: 'momo', account: 'a1', fences: ['4', '5'] }]);
  });

  test('fences compare as numbers, not strings', () => {
    const log = [req({ at: 0, dur: 100, fence: '10' }), req({ at: 50, fence: '9' })];
    expect(findOverlaps('mono', log)[0]!.fences).toEqual(['9', '10']);
  });
});

describe('retryAfterViolations', () => {
  const r429 = (at: number) => req({ at, dur: 5, status: 429, retryAfterMs: 3_000 });

  test('the same request repeated inside the window is a violation, however soon', () => {
    expect(retryAfterViolations('mono', [r429(0), req({ at: 6 })])).toHaveLength(1);
    expect(retryAfterViolations('mono', [r429(0), req({ at: 2_990 })])).toHaveLength(1);
  });

  test('after the window, or already in flight when the 429 went out, it is not', () => {
    expect(retryAfterViolations('mono', [r429(0), req({ at: 3_005 })])).toEqual([]);
    expect(retryAfterViolations('mono', [r429(0), req({ at: 3 })])).toEqual([]);
  });

  test('another path of the route gets the concurrency grace, then counts', () => {
    const other = { path: '/v2/accounts/a1/other' };
    expect(retryAfterViolations('mono', [r429(0), req({ at: 5 + CONCURRENT_GRACE_MS - 1, ...other })])).toEqual([]);
    expect(retryAfterViolations('mono', [r429(0), req({ at: 5 + CONCURRENT_GRACE_MS + 1, ...other })])).toHaveLength(1);
  });

  test('other accounts and other routes are not held back; OneSignal is held per route (app-wide)', () => {
    expect(retryAfterViolations('mono', [r429(0), req({ at: 500, account: 'a2' }), req({ at: 500, route: '/v2/accounts/:id' })])).toEqual(
      [],
    );
    const os = (at: number, extra: Partial<LoggedRequest> & { dur?: number } = {}) =>
      req({ at, route: '/notifications', path: '/notifications', account: null, fence: null, ...extra });
    expect(retryAfterViolations('onesignal', [os(0, { status: 429, retryAfterMs: 1_000, dur: 2 }), os(500)])).toHaveLength(1);
  });

  test("a paused older fence firing inside a newer fence's window is counted apart where overlaps are tolerated, never its own", () => {
    const refused = { ...r429(0), fence: '2' };
    const stale = req({ at: 500, fence: '1' });
    expect(retryAfterViolations('mono', [refused, stale])).toHaveLength(1);
    const counted = { count: 0 };
    expect(retryAfterViolations('mono', [refused, stale], undefined, counted)).toEqual([]);
    expect(counted.count).toBe(1);
    // The refused fence itself, or a newer one, inside the window is a violation even then.
    expect(retryAfterViolations('mono', [refused, req({ at: 500, fence: '2' })], undefined, { count: 0 })).toHaveLength(1);
    expect(retryAfterViolations('mono', [refused, req({ at: 500, fence: '3' })], undefined, { count: 0 })).toHaveLength(1);
  });
});
