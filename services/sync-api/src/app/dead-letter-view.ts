import { maskSecrets } from '@intellifin/core';
import type { ProviderId } from '@intellifin/domain';
import { syncCommandSchema, type StoredDeadLetter } from '@intellifin/messaging';

/** A command dead letter as operators see it: ids, origin, error and reason (masked); never the payload or headers. */
export interface DeadLetterView {
  /** The DLQ stream sequence: the dead letter's id. */
  id: number;
  originalSubject: string;
  provider: ProviderId | null;
  lane: 'bulk' | 'priority' | null;
  accountId: string | null;
  commandId: string | null;
  trigger: string | null;
  mode: string | null;
  source: string | null;
  error: { kind: string | null; code: string | null };
  reason: string | null;
  failedAt: string;
  deliveries: number | null;
}

/** The command a dead letter carries, if its payload is one. */
export function commandOf(dl: StoredDeadLetter) {
  try {
    const parsed = syncCommandSchema.safeParse(JSON.parse(Buffer.from(dl.data).toString('utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export function deadLetterView(dl: StoredDeadLetter): DeadLetterView {
  const cmd = commandOf(dl);
  return {
    id: dl.seq,
    originalSubject: dl.originalSubject,
    provider: dl.provider ?? null,
    lane: dl.lane ?? null,
    accountId: dl.accountId ?? null,
    commandId: cmd?.commandId ?? null,
    trigger: cmd?.trigger ?? null,
    mode: cmd?.mode ?? null,
    source: dl.source ?? null,
    error: { kind: dl.errorKind ?? null, code: dl.errorCode ?? null },
    reason: dl.reason === undefined ? null : maskSecrets(dl.reason),
    failedAt: dl.failedAt.toISOString(),
    deliveries: dl.deliveries ?? null,
  };
}
