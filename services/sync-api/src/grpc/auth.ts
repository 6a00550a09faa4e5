import type { Metadata } from '@grpc/grpc-js';
import type { Caller } from '../app/caller';
import { UnauthorizedError, type JwtVerifier } from '../http/auth';

/**
 * The caller of a gRPC call: the same JWT as REST, in metadata `authorization: Bearer <jwt>`,
 * verified by the same `JwtVerifier`. Missing, repeated or binary values are UNAUTHENTICATED.
 */
export async function callerOfMetadata(verifier: JwtVerifier, metadata: Metadata): Promise<Caller> {
  const values = metadata.get('authorization');
  if (values.length > 1) throw new UnauthorizedError('authorization: expected one "Bearer <jwt>" value');
  const value = values[0];
  if (value !== undefined && typeof value !== 'string') throw new UnauthorizedError('authorization: expected "Bearer <jwt>"');
  return verifier.callerOf(value);
}

/** Metadata `idempotency-key` (at most one text value), as the REST header. */
export function metadataText(metadata: Metadata, key: string): string | undefined | null {
  const values = metadata.get(key);
  if (values.length === 0) return undefined;
  if (values.length > 1 || typeof values[0] !== 'string') return null;
  return values[0];
}
