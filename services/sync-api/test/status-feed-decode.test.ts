import { statusEventOf } from '../src/app/status-feed';

/** How the feed reads kind `status` events (what queueCommand and beginRun write to the outbox). */
describe('status feed: status events', () => {
  const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  const ids = {
    accountId: '6a1f3c1e-2b7d-4c55-9a0e-1f2d3c4b5a69',
    orgId: '0b4e8d2a-5c6f-4a1b-8e9d-7c6b5a4f3e21',
    commandId: 'd3b07384-d9a0-4c9b-8f1e-2a3b4c5d6e7f',
  };

  it('queued: the command, no run, no account status after', () => {
    const e = statusEventOf(
      'status',
      7,
      bytes({
        kind: 'queued',
        ...ids,
        provider: 'mono',
        trigger: 'manual',
        mode: 'full',
        realtime: false,
        issuedAt: '2026-11-29T10:00:00.000Z',
      }),
    );
    expect(e).toEqual({
      seq: 7,
      kind: 'queued',
      orgId: ids.orgId,
      accountId: ids.accountId,
      provider: 'mono',
      runId: null,
      commandId: ids.commandId,
      outcome: null,
      counts: null,
      errorCode: null,
      statusAfter: null,
      occurredAt: '2026-11-29T10:00:00.000Z',
    });
  });

  it('run_started: the run and its command (a run without a command keeps commandId null)', () => {
    const payload = {
      kind: 'run_started',
      runId: '42',
      ...ids,
      provider: 'momo',
      trigger: 'webhook',
      mode: 'transactions',
      startedAt: 'T',
    };
    expect(statusEventOf('status', 8, bytes(payload))).toMatchObject({
      kind: 'run_started',
      runId: '42',
      commandId: ids.commandId,
      occurredAt: 'T',
    });
    expect(statusEventOf('status', 9, bytes({ ...payload, commandId: null }))).toMatchObject({ runId: '42', commandId: null });
  });

  it('malformed or unknown status events are not shown', () => {
    expect(statusEventOf('status', 1, bytes({ kind: 'queued', ...ids, provider: 'mono' }))).toBeNull(); // no issuedAt
    expect(statusEventOf('status', 2, bytes({ kind: 'run_started', ...ids, provider: 'mono', startedAt: 'T' }))).toBeNull(); // no runId
    expect(statusEventOf('status', 3, bytes({ kind: 'changed', ...ids, provider: 'mono' }))).toBeNull();
    expect(statusEventOf('status', 4, bytes({ kind: 'queued', ...ids, accountId: 'x', provider: 'mono', issuedAt: 'T' }))).toBeNull();
    expect(statusEventOf('status', 5, new TextEncoder().encode('{not json'))).toBeNull();
  });
});
