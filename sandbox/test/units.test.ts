/** Small pure pieces: money conversion, seeded ids, CLI argument parsing. */
import { parseArgs } from '../src/cli';
import { parseMonoDay } from '../src/mono/dates';
import { formatMajor, formatMajorFixed, majorNumberToMinor, parseMajor } from '../src/shared/money';
import { hash, normaliseSeed, UUID_V4_RE, uuidV4 } from '../src/shared/prng';

test('money: minor units round-trip through provider wire formats', () => {
  expect(parseMajor('150.50', 'ZMW')).toBe(15050);
  expect(parseMajor('1500', 'UGX')).toBe(1500);
  expect(parseMajor('1.5', 'UGX')).toBeUndefined();
  expect(parseMajor('12.345', 'ZMW')).toBeUndefined();
  expect(parseMajor('-5', 'ZMW')).toBeUndefined();
  expect(parseMajor('abc', 'ZMW')).toBeUndefined();
  expect(formatMajor(15050, 'ZMW')).toBe('150.50');
  expect(formatMajor(15000, 'ZMW')).toBe('150');
  expect(formatMajorFixed(23048665, 'UGX')).toBe('23048665');
  expect(formatMajorFixed(15000, 'ZMW')).toBe('150.00');
  expect(majorNumberToMinor(150.25, 'ZMW')).toBe(15025);
  expect(majorNumberToMinor(0.001, 'ZMW')).toBeUndefined();
});

test('prng: stable, key-order sensitive, valid UUIDv4s', () => {
  expect(hash(1, 'a', 2)).toBe(hash(1, 'a', 2));
  expect(hash(1, 'a', 2)).not.toBe(hash(1, 2, 'a'));
  const ids = new Set(Array.from({ length: 1000 }, (_, i) => uuidV4(7, 'x', i)));
  expect(ids.size).toBe(1000);
  for (const id of ids) expect(id).toMatch(UUID_V4_RE);
  expect(normaliseSeed('demo')).toBe(normaliseSeed('demo'));
  expect(normaliseSeed(42)).toBe(42);
});

test('cli: flags override environment; unknown flags are errors', () => {
  const o = parseArgs(['--seed', '9', '--mono-port=0', '--mono-webhook-url', 'http://h/w'], {
    SANDBOX_SEED: '3',
    SANDBOX_MOMO_PORT: '5000',
    MONO_WEBHOOK_SECRET: 's3cret',
  });
  expect(o.seed).toBe(9);
  expect(o.ports).toEqual({ momo: 5000, mono: 0 });
  expect(o.mono).toEqual({ webhookUrl: 'http://h/w', webhookSecret: 's3cret' });
  expect(() => parseArgs(['--nope', '1'], {})).toThrow(/unknown flag/);
  expect(() => parseArgs(['--mono-port', 'x'], {})).toThrow(/number/);
});

test('mono dates: DD-MM-YYYY days in UTC, Africa/Lagos (UTC+1, no DST) and across a DST change', () => {
  const iso = (d: { start: number; next: number } | undefined) => d && [new Date(d.start).toISOString(), new Date(d.next).toISOString()];
  expect(iso(parseMonoDay('15-02-2026'))).toEqual(['2026-02-15T00:00:00.000Z', '2026-02-16T00:00:00.000Z']);
  expect(iso(parseMonoDay('15-02-2026', 'Africa/Lagos'))).toEqual(['2026-02-14T23:00:00.000Z', '2026-02-15T23:00:00.000Z']);
  expect(iso(parseMonoDay('31-12-2025', 'Africa/Lagos'))).toEqual(['2025-12-30T23:00:00.000Z', '2025-12-31T23:00:00.000Z']);
  // New York springs forward on 8 March 2026: a 23-hour day.
  expect(iso(parseMonoDay('08-03-2026', 'America/New_York'))).toEqual(['2026-03-08T05:00:00.000Z', '2026-03-09T04:00:00.000Z']);
  expect(parseMonoDay('30-02-2026')).toBeUndefined();
  expect(parseMonoDay('2026-02-15')).toBeUndefined();
  expect(parseArgs(['--mono-window-time-zone', 'Africa/Lagos'], {}).mono).toEqual({ windowTimeZone: 'Africa/Lagos' });
});
