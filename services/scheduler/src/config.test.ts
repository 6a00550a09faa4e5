import { ConfigError } from '@intellifin/core';
import { loadSchedulerConfig } from './config';

const base = { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/intellifin' };

describe('scheduler config', () => {
  it('has defaults for everything but the database URL', () => {
    const c = loadSchedulerConfig(base);
    expect(c).toMatchObject({
      HEALTH_PORT: 9101,
      MIGRATE_ON_START: true,
      LEADER_LEASE_TTL_MS: 15_000,
      MAINTENANCE_CRON: '0 3 * * *',
      MAINTENANCE_TIMEZONE: 'Africa/Lusaka',
      SCHEDULER_BUDGET_MONO: { ratePerSecond: 50, burst: 1000, reserve: 200 },
    });
    expect(c.instanceId).toMatch(/\S+-\d+-[0-9a-f]{6}/);
  });

  it('names every bad variable with a readable message', () => {
    let err: unknown;
    try {
      loadSchedulerConfig({
        HEALTH_PORT: 'x',
        MAINTENANCE_CRON: 'daily',
        MAINTENANCE_TIMEZONE: 'Lusaka',
        SCHEDULER_BUDGET_MOMO: '10/5/9',
        MIGRATE_ON_START: 'maybe',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const text = (err as ConfigError).problems.join('\n');
    expect(text).toMatch(/DATABASE_URL: is required/);
    expect(text).toMatch(/HEALTH_PORT/);
    expect(text).toMatch(/MAINTENANCE_CRON: must be a cron expression/);
    expect(text).toMatch(/MAINTENANCE_TIMEZONE: must be an IANA time zone/);
    expect(text).toMatch(/SCHEDULER_BUDGET_MOMO: must be <rate>\/<burst>\/<reserve>/);
    expect(text).toMatch(/MIGRATE_ON_START/);
  });

  it('checks the lease timing and backoff relations', () => {
    expect(() => loadSchedulerConfig({ ...base, LEADER_LEASE_TTL_MS: '5000', LEADER_POLL_MS: '4000' })).toThrow(
      /LEADER_LEASE_TTL_MS: must be at least twice LEADER_POLL_MS/,
    );
    expect(() => loadSchedulerConfig({ ...base, ERROR_BACKOFF_BASE_MINUTES: '60', ERROR_BACKOFF_CAP_MINUTES: '30' })).toThrow(
      /ERROR_BACKOFF_CAP_MINUTES/,
    );
  });
});
