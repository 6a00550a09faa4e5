import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import { ROLES, type Caller, type Role } from '../app/caller';

/**
 * Bearer JWTs verified with `jose`: signature (HS256 with a shared secret in development, RS256
 * with keys from a JWKS endpoint in production), issuer, audience and expiry. `alg: none` and any
 * algorithm other than the configured one are refused before a key is looked at.
 *
 * Claims: `sub` (the IntelliFin user id), `org_id` (uuid) and `roles` (some of user, operator, admin).
 */
export interface JwtSettings {
  issuer: string;
  audience: string;
  secret?: string | undefined;
  jwksUrl?: string | undefined;
  clockToleranceS: number;
}

export class UnauthorizedError extends Error {
  readonly code = 'unauthorized';
  constructor(message: string) {
    super(message);
    this.name = 'UnauthorizedError';
  }
}

const claimsSchema = z.object({
  sub: z.string().min(1).max(200),
  org_id: z.uuid(),
  roles: z.array(z.string()).min(1),
});

export class JwtVerifier {
  private readonly key: Uint8Array | JWTVerifyGetKey;
  private readonly algorithms: string[];

  constructor(private readonly s: JwtSettings) {
    if (s.secret !== undefined) {
      this.key = new TextEncoder().encode(s.secret);
      this.algorithms = ['HS256'];
    } else if (s.jwksUrl !== undefined) {
      this.key = createRemoteJWKSet(new URL(s.jwksUrl), { timeoutDuration: 5_000, cooldownDuration: 30_000 });
      this.algorithms = ['RS256'];
    } else {
      throw new Error('JwtVerifier: set JWT_SECRET or JWT_JWKS_URL');
    }
  }

  /** The caller of an `Authorization` header value, or UnauthorizedError saying what is wrong (never the token). */
  async callerOf(authorization: string | undefined): Promise<Caller> {
    if (!authorization) throw new UnauthorizedError('missing bearer token (Authorization: Bearer <jwt>)');
    const m = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)$/.exec(authorization);
    if (!m) throw new UnauthorizedError('Authorization: expected "Bearer <jwt>"');
    let payload: unknown;
    try {
      const opts = {
        issuer: this.s.issuer,
        audience: this.s.audience,
        algorithms: this.algorithms,
        clockTolerance: this.s.clockToleranceS,
        requiredClaims: ['exp', 'sub'],
      };
      payload = (typeof this.key === 'function' ? await jwtVerify(m[1]!, this.key, opts) : await jwtVerify(m[1]!, this.key, opts)).payload;
    } catch (err) {
      throw new UnauthorizedError(describe(err));
    }
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success)
      throw new UnauthorizedError(`token claims: ${claims.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const roles = claims.data.roles.filter((r): r is Role => (ROLES as readonly string[]).includes(r));
    if (roles.length === 0) throw new UnauthorizedError(`token claims: roles: none of ${ROLES.join(', ')}`);
    return { userId: claims.data.sub, orgId: claims.data.org_id, roles };
  }
}

function describe(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'token expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `token claim ${err.claim}: ${err.reason}`;
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'token algorithm not allowed';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'token signature invalid';
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'token signed by an unknown key';
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) return 'token malformed';
  if (err instanceof joseErrors.JOSENotSupported) return 'token algorithm not supported';
  return 'token not verifiable';
}
