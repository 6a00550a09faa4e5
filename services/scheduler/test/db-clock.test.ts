import { harness, HOUR, instance, MIN, seedAccount, seedOrg, type Harness, type Instance } from './helpers';

/**
 * A command's `issuedAt` comes from Postgres' clock (the engine compares it with database times),
 * not from the scheduler host's clock: here the scheduler's clock runs three hours ahead.
 */
describe('issuedAt', () => {
  let h: Harness;
  let inst: Instance;

  beforeAll(async () => {
    h = await harness(new Date());
    inst = instance(h);
    expect(await inst.elector.poll()).toBe(true);
  });
  afterAll(async () => {
    await inst.scheduler.stop();
    await h.close();
  });

  const dbNow = async (): Promise<number> =>
    (await h.pool.query<{ t: number }>('SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS t')).rows[0]!.t;

  it('is the database time at which the due page was read, whatever the scheduler clock says', async () => {
    const org = await seedOrg(h.pool);
    const skewed = new Date((await dbNow()) + 3 * HOUR);
    h.clock.set(skewed);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await seedAccount(h.pool, org, 'mono', { nextSyncAt: new Date(skewed.getTime() - MIN) }));
    const before = Math.floor(await dbNow());
    const report = await inst.scheduler.tick();
    const after = Math.ceil(await dbNow());
    expect(report!.dispatch.published).toBe(3);
    const sent = inst.publisher.sent.filter((s) => ids.includes(s.command.accountId));
    expect(sent).toHaveLength(3);
    for (const s of sent) {
      const issued = Date.parse(s.command.issuedAt);
      expect(issued).toBeGreaterThanOrEqual(before);
      expect(issued).toBeLessThanOrEqual(after);
      expect(s.command.issuedAt).not.toBe(skewed.toISOString());
    }
  });
});
