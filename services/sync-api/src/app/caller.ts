/** Who is asking: the verified token's subject, organisation and roles. Transport-neutral. */
export const ROLES = ['user', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Caller {
  /** The IntelliFin user id (`users.external_id`), the token's `sub`. */
  userId: string;
  /** The caller's organisation; every query runs scoped to it (row-level security). */
  orgId: string;
  roles: readonly Role[];
}

/**
 * A caller with only the `user` role sees the accounts linked to their own user; an operator or
 * admin sees every account of the organisation. Returns the user filter to apply, or null for none.
 */
export function ownerFilter(caller: Caller): string | null {
  return caller.roles.includes('operator') || caller.roles.includes('admin') ? null : caller.userId;
}
