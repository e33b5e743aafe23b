/**
 * Decisions of the Cloudcraft handler, as pure functions: physical IDs, account names, request bodies, and the
 * plans for Create, Update, Delete and after a POST. No I/O, no clock: time is passed in. Retries, pacing and
 * reasons are in ../../runtime (shared with the Organization registrar).
 */
import { AccountNaming, RegistrationProps } from './properties';
import { CloudcraftAccount } from '../../runtime/policy';
import { accountName, byKeyUser, drift, oldestFirst, sameTeams, WantedRegistration, WantedTeams } from '../../runtime/registration';

// ---------------------------------------------------------------------------------------------------------------
// Physical IDs
//
// - `<id>`: the Cloudcraft account ID of a registration this resource made (its Delete removes it). IDs are opaque
//   strings: Cloudcraft's own examples are not all UUIDs.
// - `adopted:<id>` or `adopted:<id>:<original>`: a registration of the role that existed before the resource. The
//   template is the source of truth, so Create takes over its name and team access (and says so); `<original>` is
//   base64url JSON of its [name, readAccess, writeAccess] as found, kept only while the whole ID stays under
//   MAX_PHYSICAL_ID_CHARS, so that Delete (or a rollback) restores them instead of removing a registration this
//   stack did not make (RemoveAdopted=true removes it).
// - `pending:<epoch ms>`: a Create that failed after a POST that may have registered the role (a timeout, a cut
//   connection, the deadline): its rollback Delete lists and removes the registrations of the role created since.
// - `cloudcraft-unregistered`: a Create that registered nothing; Delete makes no call.

const ADOPTED = 'adopted:';
const PENDING = 'pending:';
/** Physical ID answered for a Create that registered nothing: a later Delete makes no call for it. */
export const UNREGISTERED_PHYSICAL_ID = 'cloudcraft-unregistered';
/** Physical ID of the iamParameters reader (it owns nothing in Cloudcraft). */
export const IAM_PARAMETERS_PHYSICAL_ID = 'cloudcraft-iam-parameters';
/** Longest physical ID that carries an adopted registration's original settings (CloudFormation allows 1 KB). */
export const MAX_PHYSICAL_ID_CHARS = 1_000;

/** What an adopted registration was before the stack took it over. */
export interface Original {
  readonly name: string;
  readonly readAccess: string[] | null;
  readonly writeAccess: string[] | null;
}

export interface Registration {
  readonly id: string;
  /** It existed in Cloudcraft before this resource. */
  readonly adopted: boolean;
  /** For an adopted one: its settings as found, to restore on delete (absent when they did not fit). */
  readonly original?: Original;
}

export type PhysicalRef =
  | { readonly kind: 'none' }
  | { readonly kind: 'pending'; readonly since: number }
  | ({ readonly kind: 'registration' } & Registration);

export function physicalIdOf(registration: Registration): string {
  if (!registration.adopted) return registration.id;
  const plain = `${ADOPTED}${registration.id}`;
  if (!registration.original) return plain;
  const { name, readAccess, writeAccess } = registration.original;
  const withOriginal = `${plain}:${Buffer.from(JSON.stringify([name, readAccess, writeAccess])).toString('base64url')}`;
  return withOriginal.length < MAX_PHYSICAL_ID_CHARS ? withOriginal : plain;
}

export function pendingPhysicalId(since: number): string {
  return `${PENDING}${since}`;
}

function teamList(value: unknown): value is string[] | null {
  return value === null || (Array.isArray(value) && value.every(v => typeof v === 'string'));
}

function decodeOriginal(text: string): Original | undefined {
  if (!/^[\w-]+$/.test(text)) return undefined;
  try {
    const value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 3 && typeof value[0] === 'string' && teamList(value[1]) && teamList(value[2])) {
      return { name: value[0], readAccess: value[1], writeAccess: value[2] };
    }
  } catch {
    // not an encoded original: part of the id
  }
  return undefined;
}

export function parsePhysicalId(physicalId: string | undefined): PhysicalRef {
  if (!physicalId || physicalId === UNREGISTERED_PHYSICAL_ID || physicalId === IAM_PARAMETERS_PHYSICAL_ID) return { kind: 'none' };
  if (physicalId.startsWith(PENDING)) {
    const since = Number(physicalId.slice(PENDING.length));
    return Number.isFinite(since) && since > 0 ? { kind: 'pending', since } : { kind: 'none' };
  }
  if (!physicalId.startsWith(ADOPTED)) return { kind: 'registration', id: physicalId, adopted: false };
  const rest = physicalId.slice(ADOPTED.length);
  const colon = rest.lastIndexOf(':');
  const original = colon > 0 ? decodeOriginal(rest.slice(colon + 1)) : undefined;
  const id = original ? rest.slice(0, colon) : rest;
  if (!id) return { kind: 'none' };
  return { kind: 'registration', id, adopted: true, ...(original ? { original } : {}) };
}

// ---------------------------------------------------------------------------------------------------------------
// Account names

/** The account ID in a role ARN (`arn:<partition>:iam::<account>:role/...`). */
export function accountIdOfRole(roleArn: string): string | undefined {
  return /^arn:[\w-]+:iam::(\d{12}):role\//.exec(roleArn)?.[1];
}

/** Whether naming this account needs its alias (an IAM call). */
export function needsAlias(naming: AccountNaming, accountId: string | undefined): boolean {
  return !(accountId && naming.names[accountId]) && naming.pattern.includes('{alias}');
}

/**
 * The account's name (runtime/registration's accountName): an account without an alias gets `aws-<account ID>` for
 * `{alias}`, never a bare number.
 */
export function accountNameFor(naming: AccountNaming, accountId: string | undefined, alias: string | undefined): string {
  const id = accountId ?? 'unknown';
  return accountName(accountId ? naming : { ...naming, names: {} }, id, { alias: alias ?? `aws-${id}` });
}

// ---------------------------------------------------------------------------------------------------------------
// Bodies and comparisons

/**
 * What the template wants of the registration, in the one model of runtime/registration: a team list left out
 * (null) is not managed, `[]` is shared with no team.
 */
export function wantedOf(props: RegistrationProps): WantedRegistration {
  return { name: props.accountName, roleArn: props.roleArn, readAccess: props.readAccess, writeAccess: props.writeAccess };
}

/** The registrations of a role, oldest first (createdAt, then id). */
export function registrationsOfRole(accounts: CloudcraftAccount[], roleArn: string): CloudcraftAccount[] {
  return accounts.filter(a => a.roleArn === roleArn).sort(oldestFirst);
}

/** Whether a Cloudcraft account already has the wanted name, role and (managed) team access. */
export function matchesDesired(account: CloudcraftAccount, props: RegistrationProps): boolean {
  return drift(account, wantedOf(props)).length === 0;
}

/**
 * Whether going from the old team settings to the new ones asks nothing of Cloudcraft: a list no longer managed is
 * left as it is; one now managed, or managed with other teams, must be sent.
 */
export function sameTeamSettings(before: WantedTeams, after: WantedTeams): boolean {
  return (['readAccess', 'writeAccess'] as const).every(field =>
    after[field] == null || (before[field] != null && sameTeams(before[field], after[field])));
}

// ---------------------------------------------------------------------------------------------------------------
// Create

/** How long after a POST its registration is taken for a twin delivery's (the same Create delivered twice). */
export const TWIN_WINDOW_MS = 60 * 60_000;
/** How long to wait after a POST without an answer before listing: Cloudcraft may still be verifying the role. */
export const SETTLE_MS = 30_000;
/** After a 2xx that is not the account, Cloudcraft is done: a short wait before listing. */
export const SETTLE_ANSWERED_MS = 5_000;
/** POSTs per Create at most: each may register the role. */
export const MAX_POSTS = 4;

export type CreatePlan =
  | { readonly action: 'post' }
  /** A registration a twin delivery of this Create made: its own, plain physical ID. */
  | { readonly action: 'own'; readonly account: CloudcraftAccount }
  | { readonly action: 'adopt'; readonly account: CloudcraftAccount; readonly put: boolean }
  | { readonly action: 'refuse'; readonly reason: string };

/**
 * Create, from the first list: a registration of the role made within TWIN_WINDOW_MS with exactly the wanted
 * settings is a twin delivery's (own); any other is adopted (the oldest); none: POST. A registration made with
 * another external ID than the one the role trusts (another Cloudcraft user's) can never work: refused.
 */
export function planCreate(accounts: CloudcraftAccount[], props: RegistrationProps, now: number): CreatePlan {
  const found = registrationsOfRole(accounts, props.roleArn);
  if (found.length === 0) return { action: 'post' };
  const usable = found.filter(byKeyUser(props.externalId));
  if (usable.length === 0) {
    const other = found[0];
    return {
      action: 'refuse',
      reason: `Cloudcraft already has a registration of ${props.roleArn} (account ${other.id}, "${other.name ?? ''}") made with external ID ${other.externalId}, but the role trusts ${props.externalId}: Cloudcraft cannot assume the role with it, so it is not adopted. Remove that registration in Cloudcraft (or use the API key of the user it belongs to), then retry.`,
    };
  }
  const twin = usable.find(a => matchesDesired(a, props) && now - Date.parse(a.createdAt ?? '') < TWIN_WINDOW_MS);
  if (twin) return { action: 'own', account: twin };
  return { action: 'adopt', account: usable[0], put: !matchesDesired(usable[0], props) };
}

export function originalOf(account: CloudcraftAccount): Original {
  return { name: account.name ?? '', readAccess: account.readAccess ?? null, writeAccess: account.writeAccess ?? null };
}

/**
 * After a POST: the registrations of the role that were not there at the first list are this Create's (or a twin
 * delivery's). Keep the oldest, remove the others, so every delivery ends with the same one. `posted` is the
 * account the POST answered, when it did (the list may not show it yet).
 */
export function afterPost(accounts: CloudcraftAccount[], known: ReadonlySet<string>, roleArn: string,
  posted?: CloudcraftAccount): { keep: CloudcraftAccount; remove: CloudcraftAccount[] } | undefined {
  const mine = registrationsOfRole(accounts, roleArn).filter(a => !known.has(a.id));
  if (posted && !mine.some(a => a.id === posted.id)) mine.push(posted);
  if (mine.length === 0) return undefined;
  mine.sort(oldestFirst);
  return { keep: mine[0], remove: mine.slice(1) };
}

// ---------------------------------------------------------------------------------------------------------------
// Update

export type UpdatePlan =
  | { readonly action: 'none'; readonly registration: Registration; readonly why: string }
  | { readonly action: 'put'; readonly registration: Registration }
  /** Another API host: look for the registration there first (the same installation under another name). */
  | { readonly action: 'relocate'; readonly registration: Registration; readonly why: string }
  | { readonly action: 'create'; readonly why: string };

function sameNaming(a: RegistrationProps, b: RegistrationProps): boolean {
  // Compares what the template says (a fixed name, or a pattern and names), never a name resolved from the alias:
  // the old properties are never resolved, so an Update needs no iam:ListAccountAliases for them.
  return a.accountName === b.accountName && JSON.stringify(a.naming?.names ?? {}) === JSON.stringify(b.naming?.names ?? {});
}

/**
 * Update. The physical ID is kept whenever the registration can be kept (a respelled apiUrl is the same URL once
 * normalised by parseProps, and an UPDATE_ROLLBACK is an Update like any other); a new one only when the
 * registration is gone or cannot be found at a new API host.
 */
export function planUpdate(physicalId: string, oldProps: RegistrationProps | undefined, props: RegistrationProps): UpdatePlan {
  const ref = parsePhysicalId(physicalId);
  if (ref.kind !== 'registration') return { action: 'create', why: 'the resource was never registered' };
  const registration: Registration = { id: ref.id, adopted: ref.adopted, ...(ref.original ? { original: ref.original } : {}) };
  if (oldProps && oldProps.apiUrl !== props.apiUrl) {
    return { action: 'relocate', registration, why: `the API URL changed from ${oldProps.apiUrl} to ${props.apiUrl}` };
  }
  if (oldProps && oldProps.apiKey.source === props.apiKey.source && oldProps.apiKey.id === props.apiKey.id
    && (oldProps.apiKey.field ?? '') === (props.apiKey.field ?? '') && sameNaming(oldProps, props)
    && oldProps.roleArn === props.roleArn && sameTeamSettings(oldProps, props)) {
    return { action: 'none', registration, why: 'nothing Cloudcraft stores changed' };
  }
  return { action: 'put', registration };
}

// ---------------------------------------------------------------------------------------------------------------
// Delete

/** Clock skew allowed between this function and Cloudcraft when removing what a failed Create may have made. */
export const PENDING_SKEW_MS = 60_000;

export type DeletePlan =
  | { readonly action: 'skip'; readonly why: string }
  | { readonly action: 'delete'; readonly id: string }
  | { readonly action: 'restore'; readonly id: string; readonly original: Original }
  | { readonly action: 'cleanup'; readonly since: number };

/**
 * Delete. Never fails for a resource that owns nothing: without readable properties (a deploy-time value that is
 * blank or not a URL) nothing can be called, so it succeeds and says so.
 */
export function planDelete(physicalId: string | undefined, props: RegistrationProps | undefined, propsError?: string): DeletePlan {
  const ref = parsePhysicalId(physicalId);
  if (ref.kind === 'none') return { action: 'skip', why: 'nothing was registered (the create failed or never ran)' };
  if (!props) return { action: 'skip', why: `the properties cannot be read (${propsError ?? 'unknown shape'}), so Cloudcraft cannot be called; anything registered under ${physicalId} is left in Cloudcraft` };
  // Before RETAIN: a failed Create's leftovers are not a resource the stack kept.
  if (ref.kind === 'pending') return { action: 'cleanup', since: ref.since - PENDING_SKEW_MS };
  if (props.removalPolicy === 'retain') return { action: 'skip', why: 'removalPolicy is RETAIN' };
  if (!ref.adopted || props.removeAdopted) return { action: 'delete', id: ref.id };
  if (!ref.original) return { action: 'skip', why: 'the registration existed before the stack (adopted), and its original settings are not known; set removeAdoptedRegistration to remove it too' };
  return { action: 'restore', id: ref.id, original: ref.original };
}

/**
 * What a Delete gives an adopted registration back: its name, and the team lists the template managed as they were
 * found (a list found null is sent as [], the documented "not shared"); a list the template did not manage was never
 * changed, and is left to the registration (null here: not managed).
 */
export function restoredOf(original: Original, props: RegistrationProps): WantedRegistration {
  return {
    name: original.name,
    roleArn: props.roleArn,
    readAccess: props.readAccess == null ? null : original.readAccess ?? [],
    writeAccess: props.writeAccess == null ? null : original.writeAccess ?? [],
  };
}

/** Whether an adopted registration is already as it was found: the template's fixed name and managed teams are its own. */
export function alreadyAsFound(original: Original, props: RegistrationProps): boolean {
  return !props.naming && original.name === props.accountName
    && (props.readAccess == null || sameTeams(original.readAccess, props.readAccess))
    && (props.writeAccess == null || sameTeams(original.writeAccess, props.writeAccess));
}

/** What a failed Create may have registered: the registrations of the role created since it first POSTed. */
export function leftoversOf(accounts: CloudcraftAccount[], roleArn: string, since: number): CloudcraftAccount[] {
  return registrationsOfRole(accounts, roleArn).filter(a => Date.parse(a.createdAt ?? '') >= since);
}

/** A resource of the stack as CloudFormation lists it (ListStackResources). */
export interface StackResource {
  readonly logicalId: string;
  readonly physicalId?: string;
  readonly type: string;
  readonly status: string;
}

/**
 * The other resource of the stack that now holds registration `id`, if any: a Delete must then leave it in Cloudcraft.
 * - The construct was moved or renamed: CloudFormation creates the new logical ID (which takes the registration
 *   over), then deletes the old one; or an Update that created such a resource rolls back while the old one stays.
 * - The same resource, after an Update took over what its failed Create left (the Delete of `pending:`).
 * A resource being deleted holds nothing.
 */
export function holderOf(resources: StackResource[], event: { LogicalResourceId: string; PhysicalResourceId?: string; ResourceType?: string },
  id: string): StackResource | undefined {
  return resources.find(r => r.type === event.ResourceType
    && !/^DELETE_(COMPLETE|IN_PROGRESS|SKIPPED)$/.test(r.status)
    && !(r.logicalId === event.LogicalResourceId && r.physicalId === event.PhysicalResourceId)
    && registrationOf(r.physicalId) === id);
}

function registrationOf(physicalId: string | undefined): string | undefined {
  const ref = parsePhysicalId(physicalId);
  return ref.kind === 'registration' ? ref.id : undefined;
}
