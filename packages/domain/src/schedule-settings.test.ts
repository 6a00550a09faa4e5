import { cronOfInterval, intervalOfCron, isValidTimezone, validatePlanSettings, ACCOUNT_SYNC_INTERVALS } from './schedule-settings';

describe('schedule settings (shared by the scheduler and sync-api)', () => {
  it('accepts the documented settings and drops a window’s unknown keys', () => {
    expect(validatePlanSettings({})).toEqual({ ok: true, settings: {} });
    expect(validatePlanSettings({ window: { start: '08:00', end: '20:00', note: 'x' }, spreadMinutes: 0, staleAfterMinutes: 1 })).toEqual({
      ok: true,
      settings: { window: { start: '08:00', end: '20:00' }, spreadMinutes: 0, staleAfterMinutes: 1 },
    });
    expect(validatePlanSettings({ window: null })).toEqual({ ok: true, settings: { window: null } });
  });

  it('refuses what the scheduler cannot plan with, naming each path', () => {
    const issues = (v: unknown) => {
      const r = validatePlanSettings(v);
      return r.ok ? [] : r.issues.map((i) => i.path);
    };
    expect(issues([])).toEqual(['']);
    expect(issues(null)).toEqual(['']);
    expect(issues({ every: 5 })).toEqual(['every']);
    expect(issues({ window: { start: '24:00', end: '8:00' } })).toEqual(['window.start', 'window.end']);
    expect(issues({ window: 'all day' })).toEqual(['window']);
    expect(issues({ spreadMinutes: 1441, staleAfterMinutes: 0 })).toEqual(['spreadMinutes', 'staleAfterMinutes']);
    expect(issues({ spreadMinutes: 1.5 })).toEqual(['spreadMinutes']);
  });

  it('knows IANA zones', () => {
    expect(isValidTimezone('Africa/Lusaka')).toBe(true);
    expect(isValidTimezone('Mars/Olympus')).toBe(false);
    expect(isValidTimezone('')).toBe(false);
  });

  it('maps every account interval to a cron and back', () => {
    for (const m of ACCOUNT_SYNC_INTERVALS) expect(intervalOfCron(cronOfInterval(m))).toBe(m);
    expect(cronOfInterval(15)).toBe('*/15 * * * *');
    expect(cronOfInterval(60)).toBe('0 * * * *');
    expect(cronOfInterval(360)).toBe('0 */6 * * *');
    expect(intervalOfCron('5 * * * *')).toBeNull();
    expect(intervalOfCron(null)).toBeNull();
  });
});
