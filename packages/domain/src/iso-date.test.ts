import {
  addDays,
  compareIsoDates,
  daysBetween,
  isIsoDate,
  isoDateToDate,
  maxIsoDate,
  minIsoDate,
  parseIsoDate,
  toIsoDate,
} from './iso-date';

describe('iso dates', () => {
  it('accepts real calendar dates only', () => {
    expect(isIsoDate('2024-02-29')).toBe(true);
    expect(isIsoDate('2025-02-29')).toBe(false);
    expect(isIsoDate('2025-13-01')).toBe(false);
    expect(isIsoDate('2025-1-01')).toBe(false);
    expect(isIsoDate('2025-01-01T00:00:00Z')).toBe(false);
    expect(isIsoDate(20250101)).toBe(false);
    expect(() => parseIsoDate('01-02-2025')).toThrow(/YYYY-MM-DD/);
  });

  it('converts instants using the UTC calendar', () => {
    expect(toIsoDate(new Date('2025-03-31T23:59:59.999Z'))).toBe('2025-03-31');
    expect(toIsoDate(new Date('2025-04-01T00:00:00.000+01:00'))).toBe('2025-03-31');
    expect(isoDateToDate('2025-03-31').toISOString()).toBe('2025-03-31T00:00:00.000Z');
    expect(() => toIsoDate(new Date('nope'))).toThrow();
  });

  it('adds days across month, year and leap boundaries', () => {
    expect(addDays('2025-03-01', -1)).toBe('2025-02-28');
    expect(addDays('2024-03-01', -1)).toBe('2024-02-29');
    expect(addDays('2024-12-31', 1)).toBe('2025-01-01');
    expect(addDays('2025-01-10', -90)).toBe('2024-10-12');
    expect(() => addDays('2025-01-10', 1.5)).toThrow();
  });

  it('orders and measures', () => {
    expect(compareIsoDates('2025-01-02', '2025-01-10')).toBe(-1);
    expect(compareIsoDates('2025-01-10', '2025-01-10')).toBe(0);
    expect(maxIsoDate('2025-01-02', '2024-12-31')).toBe('2025-01-02');
    expect(minIsoDate('2025-01-02', '2024-12-31')).toBe('2024-12-31');
    expect(daysBetween('2024-12-31', '2025-03-01')).toBe(60);
    expect(daysBetween('2025-03-01', '2024-12-31')).toBe(-60);
  });
});
