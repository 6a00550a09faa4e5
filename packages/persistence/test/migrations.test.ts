import { createTestDatabase, type TestDatabase } from '@intellifin/testing';
import { createPool, loadMigrations, migrate } from '../src';

describe('migrations', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ migrated: false });
  });
  afterAll(() => db.drop());

  it('two processes migrating at once both succeed and apply each migration exactly once', async () => {
    const a = createPool(db.url, { max: 1 });
    const b = createPool(db.url, { max: 1 });
    try {
      const [ra, rb] = await Promise.all([migrate(a), migrate(b)]);
      const all = loadMigrations().map((m) => m.name);
      expect([...ra.applied, ...rb.applied].sort()).toEqual(all.sort());
      const { rows } = await db.pool.query('SELECT version FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => r.version)).toEqual(loadMigrations().map((m) => m.version));
      expect((await migrate(a)).applied).toEqual([]);
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
  });

  it('refuses to run when an applied migration file was edited', async () => {
    const edited = loadMigrations().map((m, i) => (i === 0 ? { ...m, checksum: 'different' } : m));
    await expect(migrate(db.pool, edited)).rejects.toThrow(/0001_core_schema changed after it was applied/);
  });
});
