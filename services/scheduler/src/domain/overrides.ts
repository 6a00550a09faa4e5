import { PROVIDERS, validatePlanSettings, type ProviderId } from '@intellifin/domain';
import {
  ACCOUNT_PLANS,
  ALL_PLANS,
  PLAN_DEFAULTS,
  mergeSettings,
  type AccountPlan,
  type PlanDefinition,
  type ResolvedSettings,
} from './plans';
import { InvalidScheduleError, validateSlotSpec } from './slots';

/** The part of a `sync_schedules` row the resolution needs. */
export interface ScheduleSetting {
  provider: ProviderId;
  plan: string;
  orgId: string | null;
  accountId: string | null;
  cron: string | null;
  timezone: string;
  enabled: boolean;
  settings: Record<string, unknown>;
}

export interface GroupScope {
  orgId: string | null;
  accountId: string | null;
}

/**
 * A set of accounts that share one effective schedule of one plan, with its own slot state:
 * - provider scope: every account of the provider except those in a narrower group of the plan;
 * - org scope: the organisation's accounts of the provider except those with an account group;
 * - account scope: one account (unless its organisation is switched off).
 */
export interface PlanGroup {
  plan: AccountPlan;
  provider: ProviderId;
  scope: GroupScope;
  definition: PlanDefinition;
  /** False: the group's slots pass without marking anyone (disabled, or a `*` kill switch applies). */
  enabled: boolean;
  /** Why the group is disabled or unusable, for logs. */
  reason?: string;
  /** Set when the rows give an unusable cron / zone / settings: the group is skipped and reported. */
  invalid?: string;
  /** Provider scope: org groups of this plan; their accounts are not members. */
  excludeOrgIds: string[];
  /** Provider and org scopes: account groups of this plan; those accounts are not members. */
  excludeAccountIds: string[];
}

export function groupKey(g: { plan: string; provider: string; scope: GroupScope }): string {
  return `${g.plan}|${g.provider}|${g.scope.orgId ?? ''}|${g.scope.accountId ?? ''}`;
}

interface Chain {
  provider?: ScheduleSetting;
  org?: ScheduleSetting;
  account?: ScheduleSetting;
}

function resolve(plan: AccountPlan, chain: Chain): { definition: PlanDefinition; enabled: boolean; invalid?: string } {
  const base = PLAN_DEFAULTS[plan];
  const rows = [chain.provider, chain.org, chain.account].filter((r): r is ScheduleSetting => r !== undefined);
  let cron = base.cron;
  let timezone = base.timezone;
  let enabled = true;
  let settings: ResolvedSettings = base.settings;
  let invalid: string | undefined;
  for (const r of rows) {
    if (r.cron !== null) {
      cron = r.cron;
      timezone = r.timezone;
    }
    enabled = r.enabled;
    const parsed = validatePlanSettings(r.settings ?? {});
    if (parsed.ok) settings = mergeSettings(settings, parsed.settings);
    else invalid ??= `settings of ${describe(r)}: ${parsed.issues.map((i) => `${i.path || '(root)'} ${i.message}`).join('; ')}`;
  }
  try {
    validateSlotSpec({ cron, timezone, window: settings.window });
  } catch (err) {
    if (!(err instanceof InvalidScheduleError)) throw err;
    invalid ??= `${err.message} (${rows.length ? describe(rows[rows.length - 1]!) : 'built-in default'})`;
  }
  const definition: PlanDefinition = { ...base, cron, timezone, settings };
  return invalid !== undefined ? { definition, enabled, invalid } : { definition, enabled };
}

function describe(r: ScheduleSetting): string {
  return `sync_schedules(${r.provider}, ${r.plan}${r.orgId ? `, org ${r.orgId}` : ''}${r.accountId ? `, account ${r.accountId}` : ''})`;
}

/**
 * Resolves the rows of `sync_schedules` into plan groups, for every provider and account plan.
 * Precedence: account row > org row (the one the account row names) > provider row > built-in
 * default, field by field — `cron` (with its time zone) from the most specific row that sets it,
 * `enabled` from the most specific row, `settings` merged key by key. A `*` row with
 * `enabled = false` is a kill switch that no narrower row can undo: it disables every plan of its
 * scope (a provider, an organisation, an account).
 */
export function resolvePlanGroups(rows: readonly ScheduleSetting[]): PlanGroup[] {
  const groups: PlanGroup[] = [];
  for (const provider of PROVIDERS) {
    const mine = rows.filter((r) => r.provider === provider);
    const killed = mine.filter((r) => r.plan === ALL_PLANS && !r.enabled);
    const providerKilled = killed.some((r) => r.orgId === null && r.accountId === null);
    const killedOrgs = new Set(killed.filter((r) => r.orgId !== null && r.accountId === null).map((r) => r.orgId!));
    const killedAccounts = new Set(killed.filter((r) => r.accountId !== null).map((r) => r.accountId!));
    for (const plan of ACCOUNT_PLANS) {
      const planRows = mine.filter((r) => r.plan === plan);
      const providerRow = planRows.find((r) => r.orgId === null && r.accountId === null);
      const orgRows = new Map(planRows.filter((r) => r.orgId !== null && r.accountId === null).map((r) => [r.orgId!, r]));
      const accountRows = new Map(planRows.filter((r) => r.accountId !== null).map((r) => [r.accountId!, r]));
      // Kill switches of narrower scopes create groups too, so that their accounts leave the broader group.
      const orgIds = new Set([...orgRows.keys(), ...killedOrgs]);
      const accountIds = new Set([...accountRows.keys(), ...killedAccounts]);
      const accountOrg = new Map<string, string | null>();
      for (const r of [...accountRows.values(), ...killed.filter((k) => k.accountId !== null)]) {
        if (!accountOrg.has(r.accountId!) || r.orgId !== null) accountOrg.set(r.accountId!, r.orgId);
      }

      const push = (scope: GroupScope, chain: Chain, excludeOrgIds: string[], excludeAccountIds: string[]) => {
        const r = resolve(plan, chain);
        let reason: string | undefined;
        if (providerKilled) reason = `provider ${provider} switched off`;
        else if (scope.orgId !== null && killedOrgs.has(scope.orgId)) reason = 'organisation switched off';
        else if (scope.accountId !== null && killedAccounts.has(scope.accountId)) reason = 'account switched off';
        else if (!r.enabled) reason = 'plan disabled';
        groups.push({
          plan,
          provider,
          scope,
          definition: r.definition,
          enabled: reason === undefined && r.invalid === undefined,
          ...(reason !== undefined ? { reason } : {}),
          ...(r.invalid !== undefined ? { invalid: r.invalid } : {}),
          excludeOrgIds,
          excludeAccountIds,
        });
      };

      const allAccounts = [...accountIds].sort();
      push({ orgId: null, accountId: null }, { ...(providerRow ? { provider: providerRow } : {}) }, [...orgIds].sort(), allAccounts);
      for (const orgId of [...orgIds].sort()) {
        const orgRow = orgRows.get(orgId);
        push(
          { orgId, accountId: null },
          { ...(providerRow ? { provider: providerRow } : {}), ...(orgRow ? { org: orgRow } : {}) },
          [],
          allAccounts,
        );
      }
      for (const accountId of allAccounts) {
        const orgId = accountOrg.get(accountId) ?? null;
        const orgRow = orgId !== null ? orgRows.get(orgId) : undefined;
        const accountRow = accountRows.get(accountId);
        // An account of a switched-off org stays off even if its own row does not name the org:
        // the member filter excludes the killed orgs.
        push(
          { orgId, accountId },
          {
            ...(providerRow ? { provider: providerRow } : {}),
            ...(orgRow ? { org: orgRow } : {}),
            ...(accountRow ? { account: accountRow } : {}),
          },
          [...killedOrgs].sort(),
          [],
        );
      }
    }
  }
  return groups;
}
