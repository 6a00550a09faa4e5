import { mkdtempSync, copyFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCatalogue, MESSAGES_DIR } from './catalogue';
import { idempotencyKey, uuidV3 } from './idempotency';
import { parseQuietHours, quietHoursEnd } from './quiet-hours';

const q = parseQuietHours('21:00-07:00');

test('quiet hours in Africa/Lusaka (UTC+2): 23:00 → 07:00 next morning, 06:59 → 07:00, 12:00 → none', () => {
  expect(quietHoursEnd(new Date('2026-03-02T21:00:00Z'), 'Africa/Lusaka', q)?.toISOString()).toBe('2026-03-03T05:00:00.000Z');
  expect(quietHoursEnd(new Date('2026-03-03T04:59:30Z'), 'Africa/Lusaka', q)?.toISOString()).toBe('2026-03-03T05:00:00.000Z');
  expect(quietHoursEnd(new Date('2026-03-02T10:00:00Z'), 'Africa/Lusaka', q)).toBeUndefined();
  expect(quietHoursEnd(new Date('2026-03-02T18:59:59Z'), 'Africa/Lusaka', q)).toBeUndefined();
  expect(() => parseQuietHours('9pm-7am')).toThrow(/HH:MM-HH:MM/);
});

test('quiet hours follow the user time zone across a DST change (Europe/London, 29 March 2026)', () => {
  // 22:00 GMT on 28 March; 07:00 local on 29 March is 06:00 UTC (BST began at 01:00 UTC).
  expect(quietHoursEnd(new Date('2026-03-28T22:00:00Z'), 'Europe/London', q)?.toISOString()).toBe('2026-03-29T06:00:00.000Z');
});

test('idempotency keys are RFC 4122 v3 UUIDs: stable per episode and kind, different otherwise', () => {
  expect(uuidV3('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe('5df41881-3aed-3515-88a7-2f4a814cf09e');
  const k = idempotencyKey('mono', 'acct-1', 'ep-1', 'reauth');
  expect(k).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-3[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  expect(idempotencyKey('mono', 'acct-1', 'ep-1', 'reauth')).toBe(k);
  expect(idempotencyKey('mono', 'acct-1', 'ep-1', 'reminder_1')).not.toBe(k);
  expect(idempotencyKey('mono', 'acct-1', 'ep-2', 'reauth')).not.toBe(k);
});

test('the catalogue: English for every provider; adding a language is adding one file', () => {
  const en = loadCatalogue();
  expect(en.languages).toEqual(['en']);
  expect(en.render('reauth', 'momo', { account: 'Shop wallet' }).contents.en).toMatch(/MTN MoMo API key for Shop wallet/);
  expect(en.render('reauth', 'airtel', { account: null }).contents.en).toMatch(/your Airtel Money wallet/);
  const dir = mkdtempSync(join(tmpdir(), 'catalogue-'));
  copyFileSync(join(MESSAGES_DIR, 'en.json'), join(dir, 'en.json'));
  writeFileSync(
    join(dir, 'fr.json'),
    JSON.stringify({ reauth: { mono: { heading: 'Reconnectez {account}', body: 'Touchez pour relier {account}.' } } }),
  );
  const two = loadCatalogue(dir);
  expect(two.languages).toEqual(['en', 'fr']);
  const r = two.render('reauth', 'mono', { account: 'Zanaco' });
  expect(r.headings).toEqual({ en: 'Reconnect Zanaco', fr: 'Reconnectez Zanaco' });
  expect(Object.keys(two.render('reminder', 'mono', { account: 'Zanaco' }).contents)).toEqual(['en']);
});
