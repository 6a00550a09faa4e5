import { randomBytes } from 'node:crypto';

/**
 * A short random token unique to one test file (or one test), for names that must not collide
 * with other files running in parallel against the same servers: database names, Redis key
 * prefixes, JetStream stream/consumer names and subject prefixes. Lower-case letters and digits
 * only, so it is valid in every one of those namespaces.
 */
export function uniqueSuffix(bytes = 5): string {
  return randomBytes(bytes).toString('hex');
}
