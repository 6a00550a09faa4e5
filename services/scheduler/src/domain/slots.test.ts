import { dueSlots, InvalidScheduleError, inWindow, localTimeOfDay, nextSlot, validateSlotSpec } from './slots';

const LUSAKA = 'Africa/Lusaka';
const hourly = { cron: '0 * * * *', timezone: LUSAKA, window: { start: '08:00', end: '20:00' } };

describe('slots', () => {
  it('keeps hourly slots inside the business-hours window, both ends included (Lusaka = UTC+2)', () => {
    const day: string[] = [];
    let t = new Date('2026-03-23T00:00:00Z');
    for (;;) {
      const n = nextSlot(hourly, t)!;
      if (n.getTime() >= Date.parse('2026-03-24T00:00:00Z')) break;
      day.push(localTimeOfDay(n, LUSAKA));
      t = n;
    }
    expect(day).toEqual([
      '08:00',
      '09:00',
      '10:00',
      '11:00',
      '12:00',
      '13:00',
      '14:00',
      '15:00',
      '16:00',
      '17:00',
      '18:00',
      '19:00',
      '20:00',
    ]);
  });

  it('treats a window that crosses midnight as wrapping', () => {
    const w = { start: '22:00', end: '02:00' };
    expect(inWindow(new Date('2026-03-23T21:00:00Z'), LUSAKA, w)).toBe(true); // 23:00 local
    expect(inWindow(new Date('2026-03-24T00:00:00Z'), LUSAKA, w)).toBe(true); // 02:00 local, end included
    expect(inWindow(new Date('2026-03-24T00:01:00Z'), LUSAKA, w)).toBe(false); // 02:01 local
    expect(inWindow(new Date('2026-03-24T10:00:00Z'), LUSAKA, w)).toBe(false); // 12:00 local
  });

  it('folds missed slots into the latest one (catch-up) and counts the skipped ones', () => {
    const r = dueSlots(hourly, new Date('2026-03-23T07:00:00Z'), new Date('2026-03-23T12:25:00Z'));
    expect(r.latest!.toISOString()).toBe('2026-03-23T12:00:00.000Z');
    expect(r.skipped).toBe(4); // 10:00, 11:00, 12:00, 13:00 local missed; 14:00 local runs
    expect(dueSlots(hourly, new Date('2026-03-23T12:00:00Z'), new Date('2026-03-23T12:59:59Z')).latest).toBeNull();
  });

  it('follows Europe/London across the spring-forward change (08:00 local = 08:00Z, then 07:00Z)', () => {
    const london = { cron: '0 8 * * *', timezone: 'Europe/London', window: null };
    expect(nextSlot(london, new Date('2026-03-28T00:00:00Z'))!.toISOString()).toBe('2026-03-28T08:00:00.000Z');
    expect(nextSlot(london, new Date('2026-03-29T00:00:00Z'))!.toISOString()).toBe('2026-03-29T07:00:00.000Z');
    expect(nextSlot(london, new Date('2026-10-25T00:00:00Z'))!.toISOString()).toBe('2026-10-25T08:00:00.000Z');
  });

  it('follows Africa/Cairo daylight saving (from the last Friday of April)', () => {
    const cairo = { cron: '0 8 * * *', timezone: 'Africa/Cairo', window: null };
    expect(nextSlot(cairo, new Date('2026-04-20T00:00:00Z'))!.toISOString()).toBe('2026-04-20T06:00:00.000Z');
    expect(nextSlot(cairo, new Date('2026-05-04T00:00:00Z'))!.toISOString()).toBe('2026-05-04T05:00:00.000Z');
  });

  it('runs a nightly job once on DST change days, even when its wall time is skipped or repeated', () => {
    const at0130 = { cron: '30 1 * * *', timezone: 'Europe/London', window: null };
    expect(dueSlots(at0130, new Date('2026-03-28T23:00:00Z'), new Date('2026-03-29T23:00:00Z')).skipped).toBe(0);
    expect(dueSlots(at0130, new Date('2026-03-28T23:00:00Z'), new Date('2026-03-29T23:00:00Z')).latest).not.toBeNull();
    const fall = dueSlots(at0130, new Date('2026-10-24T23:00:00Z'), new Date('2026-10-25T23:00:00Z'));
    expect(fall.latest).not.toBeNull();
    expect(fall.skipped).toBe(0);
  });

  it('rejects bad cron expressions and unknown zones', () => {
    expect(() => validateSlotSpec({ cron: 'every hour', timezone: LUSAKA, window: null })).toThrow(InvalidScheduleError);
    expect(() => validateSlotSpec({ cron: '0 * * * *', timezone: 'Mars/Olympus', window: null })).toThrow(/unknown time zone/);
  });
});
