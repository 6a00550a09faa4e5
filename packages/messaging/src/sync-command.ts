import { hash } from 'node:crypto';
import { PROVIDERS, SYNC_MODES, SYNC_TRIGGERS } from '@intellifin/domain';
import { jsonCodec, type PayloadCodec } from './codec';
import { z } from 'zod';

/**
 * The sync command on the wire: JSON (the messaging publisher's default codec), with the field
 * names of `intellifin.sync.v1.SyncCommand` in lowerCamelCase (the proto3 JSON names) and the
 * domain's string names for the enums (`'mono'`, `'scheduled'`, `'full'`; `@intellifin/proto`'s
 * enum-mapping converts them). The scheduler fills the `planned_slot` arm of the dedup oneof;
 * manual/webhook triggers use `triggerId`.
 *
 * Shared by the scheduler (and later the API), which publish it, and the provider workers, which
 * consume it.
 */
const isoInstant = z.string().datetime({ offset: true });

export const syncCommandSchema = z
  .object({
    commandId: z.string().uuid(),
    accountId: z.string().min(1),
    orgId: z.string().min(1),
    provider: z.enum(PROVIDERS),
    trigger: z.enum(SYNC_TRIGGERS),
    mode: z.enum(SYNC_MODES),
    realtime: z.boolean(),
    plannedSlot: isoInstant.optional(),
    triggerId: z.string().min(1).optional(),
    issuedAt: isoInstant,
    hintRefs: z.array(z.string()).optional(),
    requestedBy: z.string().optional(),
  })
  .refine((c) => (c.plannedSlot === undefined) !== (c.triggerId === undefined), { message: 'exactly one of plannedSlot and triggerId' });
export type SyncCommand = z.infer<typeof syncCommandSchema>;

export const syncCommandCodec: PayloadCodec<SyncCommand> = jsonCodec((d) => syncCommandSchema.parse(d));

/** `Nats-Msg-Id` of a scheduled command: `<accountId>:<planned slot, RFC 3339 UTC>`. */
export function scheduledMsgId(accountId: string, plannedSlot: Date): string {
  return `${accountId}:${plannedSlot.toISOString()}`;
}

/**
 * A command id derived from the msgID (a name-based UUID, version 5 layout over SHA-1): a
 * re-publication of the same (account, slot) carries the same id, so a worker that sees it twice
 * can tell.
 */
export function commandIdFor(msgId: string): string {
  // One-shot hash (Node ≥ 20.12): a scheduler pass derives 100k of these, and a Hash object each costs twice as much.
  const h = hash('sha1', `intellifin-sync:cmd:${msgId}`, 'buffer');
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}
