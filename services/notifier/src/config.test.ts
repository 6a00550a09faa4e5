import { loadNotifierConfig, postgresPoolSize } from './config';

const base = {
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/intellifin',
  NATS_URL: 'nats://127.0.0.1:4222',
  ONESIGNAL_APP_ID: '5eb5a37e-b458-11e3-ac11-000c2940e62c',
  ONESIGNAL_API_KEY: 'os_v2_app_configtestkey',
};

test('NOTIFIER_REMINDER_HOURS: unset → 24,72; empty → none (as .env.example says); commas only → none; a list → that list', () => {
  expect(loadNotifierConfig(base).reminderHours).toEqual([24, 72]);
  expect(loadNotifierConfig({ ...base, NOTIFIER_REMINDER_HOURS: '' }).reminderHours).toEqual([]);
  expect(loadNotifierConfig({ ...base, NOTIFIER_REMINDER_HOURS: ',' }).reminderHours).toEqual([]);
  expect(loadNotifierConfig({ ...base, NOTIFIER_REMINDER_HOURS: ' 12, 48 ' }).reminderHours).toEqual([12, 48]);
  expect(() => loadNotifierConfig({ ...base, NOTIFIER_REMINDER_HOURS: '72,24' })).toThrow(/NOTIFIER_REMINDER_HOURS: must be increasing/);
});

test('NOTIFIER_SEND_CONCURRENCY sets the dispatcher concurrency (default 8) and the pool has a connection for each push and each event', () => {
  const d = loadNotifierConfig(base);
  expect(d.NOTIFIER_SEND_CONCURRENCY).toBe(8);
  expect(postgresPoolSize(d)).toBe(8 + 8 + 2);
  const c = loadNotifierConfig({ ...base, NOTIFIER_SEND_CONCURRENCY: '3', NOTIFIER_CONCURRENCY: '5' });
  expect(c.NOTIFIER_SEND_CONCURRENCY).toBe(3);
  expect(postgresPoolSize(c)).toBe(5 + 3 + 2);
  expect(() => loadNotifierConfig({ ...base, NOTIFIER_SEND_CONCURRENCY: '0' })).toThrow(/NOTIFIER_SEND_CONCURRENCY/);
  expect(() => loadNotifierConfig({ ...base, NOTIFIER_SEND_CONCURRENCY: '65' })).toThrow(/NOTIFIER_SEND_CONCURRENCY: must be at most 64/);
});
