import { jsonCodec, LaneRunners, Publisher, type BatchItem } from '../src';
import { harness, waitFor, type Harness } from './helpers';

interface Cmd {
  accountId: string;
  trigger: string;
}

/** The order in which the two lanes' handlers ran, as one list (one handler, two consumers). */
describe('priority lane (real NATS)', () => {
  let h: Harness;
  let pub: Publisher;
  let lanes: LaneRunners<Cmd> | undefined;

  beforeAll(async () => {
    h = await harness({ ackWaitMs: 30_000 });
    pub = new Publisher({ nc: h.nc, topology: h.topology, timeoutMs: 30_000 });
  });
  afterEach(async () => {
    await lanes?.stop(2_000);
    lanes = undefined;
  });
  afterAll(async () => {
    await h.close();
  });

  async function publishAll(items: BatchItem<Cmd>[]): Promise<void> {
    for (let i = 0; i < items.length; i += 5_000) {
      const results = await pub.publishBatch(items.slice(i, i + 5_000));
      const failed = results.filter((r) => r.status === 'rejected');
      expect(failed).toEqual([]);
    }
  }

  const scheduled = (provider: 'mono' | 'momo', n: number): BatchItem<Cmd>[] =>
    Array.from({ length: n }, (_, i) => {
      const cmd = { accountId: `s${i}`, trigger: 'scheduled' };
      return { subject: h.topology.commandSubjectFor({ provider, ...cmd }), payload: cmd, msgId: `${provider}:s${i}:1` };
    });

  function start(provider: 'mono' | 'momo', order: Cmd[]): LaneRunners<Cmd> {
    lanes = new LaneRunners<Cmd>({
      provider,
      nc: h.nc,
      js: h.js,
      topology: h.topology,
      codec: jsonCodec<Cmd>(),
      logger: h.logger,
      concurrency: 1,
      priorityConcurrency: 1,
      handler: (_m, ctx) => void order.push(ctx.payload),
    });
    return lanes;
  }

  it('a manual command published after 20,000 scheduled ones is handled before 1,000 of them', async () => {
    await publishAll(scheduled('mono', 20_000));
    const manual = { accountId: 'person1', trigger: 'manual' };
    await pub.publish(h.topology.commandSubjectFor({ provider: 'mono', ...manual }), manual, { msgId: 'person1:tap-1' });
    const si = await h.jsm.streams.info(h.topology.streams.commands.name);
    expect(si.state.messages).toBe(20_001); // everything is queued before any worker runs

    const order: Cmd[] = [];
    await start('mono', order).start();
    await waitFor(() => order.some((c) => c.trigger === 'manual'), 'the manual command handled', 60_000);
    const at = order.findIndex((c) => c.trigger === 'manual');
    const scheduledBefore = order.slice(0, at).filter((c) => c.trigger === 'scheduled').length;
    expect(scheduledBefore).toBeLessThan(1_000);
    // The bulk lane works through the scheduled commands in publish order meanwhile.
    // (Counted as scheduled commands: when the manual one was handled first, at + 20 entries hold only 19.)
    await waitFor(
      () => order.slice(at + 1).length >= 20 && order.filter((c) => c.trigger === 'scheduled').length >= 20,
      'scheduled work continuing after the manual command',
      60_000,
    );
    const bulk = order.filter((c) => c.trigger === 'scheduled').map((c) => Number(c.accountId.slice(1)));
    expect(bulk.slice(0, 20)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  }, 120_000);

  it('a stream of manual commands does not starve scheduled work: the bulk lane keeps its own slot', async () => {
    await publishAll(scheduled('momo', 300));
    const manual = Array.from({ length: 300 }, (_, i): BatchItem<Cmd> => {
      const cmd = { accountId: `m${i}`, trigger: i % 2 ? 'manual' : 'webhook' };
      return { subject: h.topology.commandSubjectFor({ provider: 'momo', ...cmd }), payload: cmd, msgId: `m${i}:1` };
    });
    await publishAll(manual);
    const order: Cmd[] = [];
    await start('momo', order).start();
    await waitFor(() => order.filter((c) => c.trigger !== 'scheduled').length === 300, 'every manual command handled', 60_000);
    const lastPriority = order.reduce((last, c, i) => (c.trigger !== 'scheduled' ? i : last), -1);
    const scheduledWhileManualQueued = order.slice(0, lastPriority).filter((c) => c.trigger === 'scheduled').length;
    // With one queue, all 300 scheduled commands (published first) would precede every manual one;
    // with a priority lane that took every slot, none would. Both lanes progress together.
    expect(scheduledWhileManualQueued).toBeGreaterThan(0);
    expect(order.findIndex((c) => c.trigger !== 'scheduled')).toBeLessThan(300);
  }, 120_000);
});
