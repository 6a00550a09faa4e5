import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError, boolVar, databaseEnv, loadConfig, natsEnv, portVar } from '../src/config';

const schema = z.object({
  ...databaseEnv,
  ...natsEnv,
  HTTP_PORT: portVar(8080),
  FEATURE_X: boolVar(false),
  MONO_SECRET_KEY: z.string().min(10),
});

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies defaults and coerces types', () => {
    const cfg = loadConfig(schema, { DATABASE_URL: 'postgres://127.0.0.1/x', MONO_SECRET_KEY: 'live_sk_0123456789' });
    expect(cfg).toEqual({
      DATABASE_URL: 'postgres://127.0.0.1/x',
      NATS_URL: 'nats://127.0.0.1:4222',
      HTTP_PORT: 8080,
      FEATURE_X: false,
      MONO_SECRET_KEY: 'live_sk_0123456789',
    });
  });

  it('names every missing or malformed variable in one error', () => {
    const problems = problemsOf(() => loadConfig(schema, { NATS_URL: 'http://nope', HTTP_PORT: 'eighty', FEATURE_X: 'maybe' }));
    const names = problems.map((p) => p.split(':')[0]).sort();
    expect(names).toEqual(['DATABASE_URL', 'FEATURE_X', 'HTTP_PORT', 'MONO_SECRET_KEY', 'NATS_URL']);
    expect(problems.find((p) => p.startsWith('DATABASE_URL'))).toMatch(/required/);
  });

  it('never echoes a rejected secret value in the error', () => {
    const problems = problemsOf(() => loadConfig(schema, { DATABASE_URL: 'postgres://h/x', MONO_SECRET_KEY: 'short' }));
    expect(problems.join('\n')).not.toContain('short');
  });

  it('reads secrets from <NAME>_FILE', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'mono'), 'live_sk_from_file_123\n');
    const cfg = loadConfig(schema, { DATABASE_URL: 'postgres://h/x', MONO_SECRET_KEY_FILE: join(dir, 'mono') });
    expect(cfg.MONO_SECRET_KEY).toBe('live_sk_from_file_123');
  });

  it('rejects an unreadable file and a variable set twice', () => {
    const missing = problemsOf(() => loadConfig(schema, { DATABASE_URL: 'postgres://h/x', MONO_SECRET_KEY_FILE: '/nonexistent/secret' }));
    expect(missing[0]).toMatch(/^MONO_SECRET_KEY_FILE: cannot read file \/nonexistent\/secret \(ENOENT\)/);
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'k'), 'live_sk_from_file_123');
    const both = problemsOf(() =>
      loadConfig(schema, { DATABASE_URL: 'postgres://h/x', MONO_SECRET_KEY: 'live_sk_0123456789', MONO_SECRET_KEY_FILE: join(dir, 'k') }),
    );
    expect(both[0]).toMatch(/set only one/);
  });

  it('treats empty strings as unset so defaults apply', () => {
    const cfg = loadConfig(schema, { DATABASE_URL: 'postgres://h/x', MONO_SECRET_KEY: 'live_sk_0123456789', HTTP_PORT: '' });
    expect(cfg.HTTP_PORT).toBe(8080);
  });
});
