/**
 * JetStream evidence: the dead-letter stream, the events stream and the command consumers' counters.
 * Messages are read by sequence number (`STREAM.MSG.GET`, NATS 2.9-compatible, no consumer created).
 */
import { jetstreamManager, type JetStreamManager, type StoredMsg } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createTopology, DLQ_HEADERS, type Topology } from '@intellifin/messaging';
import { invariant } from './result';
import type { InvariantResult, PoisonAccount } from './types';
import type { Pool } from 'pg';
import { committedFinish, type DbRun, type DbWorld } from './world';

const short = (id: string) => id.slice(0, 8);

export interface StreamSession {
  nc: NatsConnection;
  jsm: JetStreamManager;
  topology: Topology;
  close(): Promise<void>;
}

export async function openStreams(natsUrl: string, namespace?: string): Promise<StreamSession> {
  const nc = await connect({ servers: natsUrl, name: 'chaos-checker', timeout: 10_000, maxReconnectAttempts: 5 });
  const jsm = await jetstreamManager(nc, { timeout: 15_000 });
  return {
    nc,
    jsm,
    topology: createTopology(namespace ? { namespace } : {}),
    close: () => nc.drain().catch(() => nc.close()),
  };
}

/** Every message still in `stream`, in sequence order (deleted sequences skipped). */
export async function readAll(jsm: JetStreamManager, stream: string, concurrency = 32): Promise<StoredMsg[]> {
  const info = await jsm.streams.info(stream);
  const { first_seq: first, last_seq: last, messages } = info.state;
  if (messages === 0) return [];
  const out: Array<StoredMsg | null> = new Array(last - first + 1).fill(null);
  let next = first;
  const worker = async () => {
    for (;;) {
      const seq = next++;
      if (seq > last) return;
      out[seq - first] = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out.filter((m): m is StoredMsg => m !== null);
}

/**
 * dlq: the accounts whose commands sit in SYNC_DLQ are exactly the injected poison — every poison
 * account has at least one entry (runner or advisory path) and no other account has any.
 */
export async function checkDeadLetters(
  s: StreamSession,
  poison: readonly PoisonAccount[],
): Promise<{ result: InvariantResult; messages: number }> {
  const msgs = await readAll(s.jsm, s.topology.streams.deadLetters.name);
  const seen = new Map<string, { n: number; code: string }>();
  const strange: string[] = [];
  for (const m of msgs) {
    const original = m.header?.get(DLQ_HEADERS.originalSubject) || undefined;
    const addr = original ? s.topology.tryParseCommandSubject(original) : undefined;
    if (!addr) {
      strange.push(`a dead letter from ${original ?? m.subject}`);
      continue;
    }
    const prev = seen.get(addr.accountId);
    seen.set(addr.accountId, { n: (prev?.n ?? 0) + 1, code: m.header?.get(DLQ_HEADERS.errorCode) || prev?.code || '?' });
  }
  const want = new Set(poison.map((p) => p.accountId));
  const bad = [...strange];
  for (const p of poison) if (!seen.has(p.accountId)) bad.push(`poison ${p.kind} ${short(p.accountId)} not dead-lettered`);
  for (const [id, v] of seen) if (!want.has(id)) bad.push(`${short(id)} dead-lettered (${v.code}) but not poison`);
  return {
    result: invariant('dlq', `${msgs.length} dead letters for ${seen.size} accounts; ${poison.length} poison injected`, bad),
    messages: msgs.length,
  };
}

/**
 * events: every run event was delivered. The outbox is empty, SYNC_EVENTS holds a run event for
 * every run that recorded its outcome with the fenced finish statement, and every run event it
 * holds names a run that committed with that outcome (an event published outside the outbox, for
 * a commit that never happened, shows here).
 */
export async function checkEvents(s: StreamSession, world: DbWorld, outboxRows: number, pool?: Pool): Promise<InvariantResult> {
  const msgs = await readAll(s.jsm, s.topology.streams.events.name);
  const runs = new Map(world.runs.map((r) => [r.id, r]));
  const delivered = new Set<string>();
  const bad: string[] = [];
  if (outboxRows > 0) bad.push(`${outboxRows} outbox row(s) never relayed`);
  let runEvents = 0;
  for (const m of msgs) {
    const kind = s.topology.stripNamespace(m.subject).split('.')[2];
    if (kind !== 'run') continue;
    runEvents++;
    let ev: { runId?: string; outcome?: string };
    try {
      ev = m.json<{ runId?: string; outcome?: string }>();
    } catch {
      bad.push(`event #${m.seq} is not JSON`);
      continue;
    }
    const run = ev.runId ? (runs.get(ev.runId) ?? (await runCommittedSince(pool, ev.runId))) : undefined;
    if (!run) bad.push(`event #${m.seq} for run ${ev.runId ?? '?'} that the database does not have`);
    else if (!committedFinish(run) || run.outcome !== ev.outcome)
      bad.push(
        `event #${m.seq} says run ${short(run.id)} ${ev.outcome ?? '?'}, the database ${run.outcome}${run.errorCode ? ` (${run.errorCode})` : ''}`,
      );
    if (ev.runId) delivered.add(ev.runId);
  }
  let expected = 0;
  for (const r of world.runs) {
    if (!committedFinish(r)) continue;
    expected++;
    if (!delivered.has(r.id)) bad.push(`run ${short(r.id)} (${r.outcome}) has no run event`);
  }
  return invariant('events', `${expected} committed runs, ${runEvents} run events, outbox ${outboxRows}`, bad);
}

/**
 * A run the world snapshot does not have may have committed after it was taken (a run the
 * services started after quiescence): read it now before calling its event an orphan.
 */
async function runCommittedSince(pool: Pool | undefined, runId: string): Promise<DbRun | undefined> {
  if (!pool || !/^[0-9a-f-]{36}$/i.test(runId)) return undefined;
  const { rows } = await pool.query<{ outcome: string; error_code: string | null; finished_at: Date | null }>(
    'SELECT outcome, error_code, finished_at FROM sync_runs WHERE id = $1',
    [runId],
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    id: runId,
    accountId: '',
    fence: 0n,
    outcome: r.outcome,
    mode: '',
    errorKind: null,
    errorCode: r.error_code,
    startedAt: new Date(0),
    finishedAt: r.finished_at,
    windowFrom: null,
    added: 0,
  };
}

export interface ConsumerFigures {
  /** Σ deliveries over the command consumers minus the commands the stream ever stored: a lower bound on redeliveries. */
  redeliveries: number;
  deliveries: number;
  commands: number;
  ackPending: number;
  pending: number;
}

export async function commandConsumerFigures(s: StreamSession): Promise<ConsumerFigures> {
  const name = s.topology.streams.commands.name;
  const info = await s.jsm.streams.info(name);
  let deliveries = 0;
  let ackPending = 0;
  let pending = 0;
  for await (const c of s.jsm.consumers.list(name)) {
    deliveries += c.delivered.consumer_seq;
    ackPending += c.num_ack_pending;
    pending += c.num_pending;
  }
  const commands = info.state.last_seq;
  return { redeliveries: Math.max(0, deliveries - commands), deliveries, commands, ackPending, pending };
}
