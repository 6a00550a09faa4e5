import { createHash } from 'node:crypto';

/** The namespace of our OneSignal idempotency keys (a fixed random UUID). */
export const IDEMPOTENCY_NAMESPACE = '8f0c5d0e-3b1a-4f7e-9c2d-6a4b1e7f2c90';

/** RFC 4122 name-based UUID version 3 (MD5), as providers.md §4.6 recommends for OneSignal keys. */
export function uuidV3(name: string, namespace: string = IDEMPOTENCY_NAMESPACE): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  if (ns.length !== 16) throw new Error('namespace must be a UUID');
  const h = createHash('md5').update(ns).update(name, 'utf8').digest();
  h[6] = (h[6]! & 0x0f) | 0x30;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/**
 * The idempotency key of one push: the same for every retry of it (and every replica), different
 * for each episode and each kind of push within it (`reauth`, `reminder_1`, `expiry_warning`, …).
 */
export function idempotencyKey(provider: string, accountId: string, episode: string, kind: string): string {
  return uuidV3(`reauth:${provider}:${accountId}:${episode}:${kind}`);
}
