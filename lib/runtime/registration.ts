/**
 * One model of a Cloudcraft registration, for both functions (the single-account handler and the Organization
 * registrar): what a template wants of one, how it compares with what Cloudcraft has, the body of a POST or PUT, the
 * order of registrations of a role, whether one was made by the key's user, and the account's name. Pure.
 *
 * Team access: a list left out is not managed (Cloudcraft's default for a new registration; an existing one keeps
 * what it has, whoever set it); `[]` is shared with no team; a list of `team/<id>` is exactly those teams.
 */
import { CloudcraftAccount } from './policy';

/** Team lists as a template gives them: undefined or null, not managed. */
export interface WantedTeams {
  readonly readAccess?: string[] | null;
  readonly writeAccess?: string[] | null;
}

/** A registration as a template wants it. */
export interface WantedRegistration extends WantedTeams {
  readonly name: string;
  readonly roleArn: string;
}

export type Drift = 'name' | 'roleArn' | 'readAccess' | 'writeAccess';

const TEAM_FIELDS = ['readAccess', 'writeAccess'] as const;

/** Team lists compared as sets; null (Cloudcraft's default) and [] both mean "shared with no team". */
export function sameTeams(a: string[] | null | undefined, b: string[] | null | undefined): boolean {
  return JSON.stringify([...a ?? []].sort()) === JSON.stringify([...b ?? []].sort());
}

/** What differs between a registration and what is wanted of it (team access only where it is managed). */
export function drift(account: CloudcraftAccount, wanted: WantedRegistration): Drift[] {
  const changes: Drift[] = [];
  if (account.name !== wanted.name) changes.push('name');
  if (account.roleArn !== wanted.roleArn) changes.push('roleArn');
  for (const field of TEAM_FIELDS) {
    if (wanted[field] != null && !sameTeams(account[field], wanted[field])) changes.push(field);
  }
  return changes;
}

/**
 * The body of a POST or PUT: the team lists that are managed; one that is not is sent back as the registration has
 * it (`current`, as last listed) when it has one, else left out. Whether a PUT keeps or clears a list it leaves out is
 * not documented: sharing set up in Cloudcraft survives a rename under either reading. null is never sent.
 */
export function registrationBody(wanted: WantedRegistration, options: { current?: WantedTeams; region?: string } = {}): Record<string, unknown> {
  const body: Record<string, unknown> = { name: wanted.name, roleArn: wanted.roleArn };
  for (const field of TEAM_FIELDS) {
    const list = wanted[field] ?? options.current?.[field];
    if (list != null) body[field] = list;
  }
  if (options.region) body.region = options.region;
  return body;
}

/** Whether a PUT must know the registration's current team lists first (a list it does not manage). */
export function needsCurrentTeams(wanted: WantedTeams): boolean {
  return TEAM_FIELDS.some(field => wanted[field] == null);
}

export function createdAtOf(account: CloudcraftAccount): number | undefined {
  const t = account.createdAt ? Date.parse(account.createdAt) : NaN;
  return Number.isNaN(t) ? undefined : t;
}

/** The order of registrations of one role: oldest first (createdAt, then id); one without a date first. */
export function oldestFirst(a: CloudcraftAccount, b: CloudcraftAccount): number {
  return (createdAtOf(a) ?? 0) - (createdAtOf(b) ?? 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * Whether a registration may be the key's user's: made with their external ID, or one that does not show it. One
 * made with another external ID is another user's: the role (which trusts the key's user) cannot work with it.
 */
export function byKeyUser(externalId: string | undefined): (registration: CloudcraftAccount) => boolean {
  return r => !externalId || !r.externalId || r.externalId === externalId;
}

/**
 * The account's name in Cloudcraft: its entry in `names`, else the pattern with `{accountId}` and the given
 * placeholders (`{alias}`, `{name}`) filled in; the account ID when that leaves nothing.
 */
export function accountName(naming: { readonly pattern: string; readonly names: Record<string, string> }, accountId: string,
  placeholders: Record<string, string>): string {
  const mapped = naming.names[accountId]?.trim();
  if (mapped) return mapped;
  let name = naming.pattern.split('{accountId}').join(accountId);
  for (const [key, value] of Object.entries(placeholders)) name = name.split(`{${key}}`).join(value);
  return name.trim() || accountId;
}
