import { z } from 'zod';

/**
 * Opaque keyset cursors for list endpoints: base64url of a small JSON object. `startedAt` is the
 * database's own text of the timestamp (microseconds), so no row is skipped by rounding.
 */
const TIMESTAMP_TEXT = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}(:?\d{2})?|Z)$/;
const runsCursorSchema = z.object({ s: z.string().regex(TIMESTAMP_TEXT), i: z.uuid() });
export type RunsCursor = { startedAt: string; id: string };

export function encodeRunsCursor(c: RunsCursor): string {
  return Buffer.from(JSON.stringify({ s: c.startedAt, i: c.id })).toString('base64url');
}

/** Decodes a cursor, or null when it is not one of ours (the transport answers 400 naming `cursor`). */
export function decodeRunsCursor(text: string): RunsCursor | null {
  try {
    const parsed = runsCursorSchema.safeParse(JSON.parse(Buffer.from(text, 'base64url').toString('utf8')));
    if (!parsed.success) return null;
    return { startedAt: parsed.data.s, id: parsed.data.i };
  } catch {
    return null;
  }
}
