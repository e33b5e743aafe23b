/**
 * The Organization registrar's decisions, as pure functions: from what the Organization wants (desired), what
 * Cloudcraft has (actual) and what the registrar owns (its ledger), the actions that bring Cloudcraft in step.
 * No I/O, no clock: time is passed in. A plan is made from any starting state, and a run that stops halfway leaves
 * a state from which the next plan finishes the work.
 *
 * Ownership: the registrar touches only registrations its ledger names (made by it, or adopted: a registration of
 * the very role it would register, made by the same Cloudcraft user). Every other registration is left alone.
 *
 * Absence from one answer is not evidence: an owned registration missing from Cloudcraft's list is confirmed gone by
 * a direct request for its ID (a PUT of what it should be: 404 means gone) before it is registered again, and one
 * that exists after all proves the list wrong (the run stops). Deregistering sends DELETE whatever the list shows
 * (404 is done). A run whose desired set is incomplete (a read failed) deregisters nothing.
 */
import { CloudcraftAccount } from '../../runtime/policy';
import { byKeyUser, createdAtOf, Drift, drift, oldestFirst } from '../../runtime/registration';

/** An account that should be registered. */
export interface DesiredAccount {
  readonly accountId: string;
  readonly roleArn: string;
  readonly name: string;
  /** `team/<id>` entries; undefined when team access is not managed (`[]`: shared with no team). */
  readonly readAccess?: string[];
  readonly writeAccess?: string[];
}

/** The ledger's record of one account. */
export interface LedgerEntry {
  readonly accountId: string;
  readonly roleArn: string;
  /** posting: a POST was sent and not confirmed; registered: owned; failed: the last POST was refused. */
  readonly state: 'posting' | 'registered' | 'failed';
  readonly cloudcraftId?: string;
  readonly adopted?: boolean;
  /**
   * When the first POST of the current registration was sent. Registrations of the role made from then until
   * `POST_LATE_MS` after the last POST (`lastPostAt`) are the registrar's own; later ones (a user's, by hand) are not.
   */
  readonly postedAt?: number;
  /** When the last POST of the current registration was sent (absent: `postedAt`). */
  readonly lastPostAt?: number;
  /** POSTs in a row that Cloudcraft did not confirm (absent: 1). */
  readonly attempts?: number;
  /** When the account was first seen no longer desired. */
  readonly goneSince?: number;
  readonly failures?: number;
  /** No new POST for this account before this time (after refusals). */
  readonly retryAt?: number;
  readonly lastError?: string;
  /** The external ID of the key's user when it was registered: another one now means the key's user changed. */
  readonly externalId?: string;
  /**
   * The registration's team lists when the registrar last wrote this entry: sent back by a PUT that confirms a
   * registration missing from the list, when team access is not managed (a PUT may clear the lists it leaves out).
   */
  readonly readAccess?: string[] | null;
  readonly writeAccess?: string[] | null;
}

export interface PlanInput {
  readonly desired: DesiredAccount[];
  /** Accounts not desired now but not to be deregistered either (their stack instance is being updated). */
  readonly keep: ReadonlySet<string>;
  readonly actual: CloudcraftAccount[];
  readonly ledger: LedgerEntry[];
  readonly now: number;
  /** The external ID of the key's user: a registration of one of our roles with another cannot work. */
  readonly externalId?: string;
  readonly graceMs: number;
  /** How long an unconfirmed POST may take to show up in the list. */
  readonly settleMs: number;
  /** Ignore refusal back-off (a deployment asked for this run). */
  readonly force?: boolean;
  /** Owned registrations confirmed gone by a direct request in this run (their absence from the list is evidence now). */
  readonly confirmedGone?: ReadonlySet<string>;
  /** Whether the desired set is known whole: false when a read failed, and then nothing is deregistered. @default true */
  readonly complete?: boolean;
  /**
   * When the run making this plan started: an account marked gone by this run (on its one read of AWS) is deregistered
   * by a later run only, after a read of its own, whatever the grace period. @default - no such rule
   */
  readonly runStartedAt?: number;
}

export type Action =
  /** An owned registration missing from the list: asked for by its ID (PUT of what it should be; 404: gone). */
  | { readonly kind: 'confirm'; readonly account: DesiredAccount; readonly cloudcraftId: string; readonly entry: LedgerEntry }
  /** Record a registration found for a POST that was not confirmed. */
  | { readonly kind: 'claim'; readonly account: DesiredAccount; readonly cloudcraftId: string; readonly postedAt?: number; readonly lastPostAt?: number }
  /** Take over an existing registration of the role (made by the key's user, outside the registrar). */
  | { readonly kind: 'adopt'; readonly account: DesiredAccount; readonly existing: CloudcraftAccount }
  | { readonly kind: 'register'; readonly account: DesiredAccount; readonly previous?: LedgerEntry }
  /** Stop posting for an account whose POSTs Cloudcraft never confirmed (5xx, no answer): a refusal, backed off. */
  | { readonly kind: 'give-up'; readonly account: DesiredAccount; readonly previous: LedgerEntry; readonly why: string }
  | { readonly kind: 'update'; readonly account: DesiredAccount; readonly cloudcraftId: string; readonly changes: Drift[] }
  /**
   * An owned registration made under another Cloudcraft user's external ID (the key's user changed): removed, as the
   * roles no longer trust it; the account is registered again under the key's user.
   */
  | { readonly kind: 'retire'; readonly accountId: string; readonly cloudcraftId: string; readonly why: string }
  /** A second registration of an owned role made by the registrar's own POSTs: removed. */
  | { readonly kind: 'remove-extra'; readonly accountId: string; readonly cloudcraftId: string }
  | { readonly kind: 'mark-gone'; readonly accountId: string }
  | { readonly kind: 'unmark-gone'; readonly accountId: string }
  | { readonly kind: 'deregister'; readonly accountId: string; readonly cloudcraftId: string }
  /** Drop a ledger entry that owns nothing any more. */
  | { readonly kind: 'forget'; readonly accountId: string; readonly why: string }
  /** Nothing to do yet (a POST settling, a refusal backing off, a conflict); `failed`: the account is reported failed. */
  | { readonly kind: 'wait'; readonly accountId: string; readonly why: string; readonly failed?: boolean };

/** Skew allowed between this clock and Cloudcraft's createdAt. */
export const CLOCK_SKEW_MS = 5 * 60_000;

/**
 * How long after it was sent a POST can still make its registration: a request Cloudcraft finishes after the client
 * gave up is bounded by the invocation that sent it (Lambda's 15-minute maximum). A registration of an owned role made
 * later than this after the registrar's last POST is someone else's (a second registration added by hand) and is
 * left alone.
 */
export const POST_LATE_MS = 15 * 60_000;
/** Unconfirmed POSTs in a row after which an account is treated as refused (backed off, reported failed). */
export const MAX_UNCONFIRMED_POSTS = 3;

/**
 * Order of execution: confirmations first (what they find may change the plan), bookkeeping, then what a user waits
 * for (new accounts), then clean-up.
 */
const ORDER: Record<Action['kind'], number> = {
  'confirm': -1,
  'claim': 0,
  'forget': 0,
  'mark-gone': 0,
  'unmark-gone': 0,
  'wait': 0,
  'adopt': 1,
  'retire': 1,
  'register': 2,
  'give-up': 2,
  'update': 3,
  'remove-extra': 4,
  'deregister': 5,
};

/**
 * Registrations of a role that the entry's POSTs made: created from its first POST to `POST_LATE_MS` after its last
 * (allowing for clock skew either side). None when it never POSTed (adopted) or when createdAt is unknown.
 */
export function madeByPosts(registrations: CloudcraftAccount[], entry: Pick<LedgerEntry, 'postedAt' | 'lastPostAt'>): CloudcraftAccount[] {
  if (entry.postedAt === undefined) return [];
  const from = entry.postedAt - CLOCK_SKEW_MS;
  const until = Math.max(entry.lastPostAt ?? entry.postedAt, entry.postedAt) + POST_LATE_MS + CLOCK_SKEW_MS;
  return registrations.filter(r => {
    const t = createdAtOf(r);
    return t !== undefined && t >= from && t <= until;
  });
}

export function plan(input: PlanInput): Action[] {
  const actions: Action[] = [];
  const byRole = new Map<string, CloudcraftAccount[]>();
  for (const account of input.actual) {
    if (typeof account.roleArn !== 'string') continue;
    byRole.set(account.roleArn, [...(byRole.get(account.roleArn) ?? []), account].sort(oldestFirst));
  }
  const byId = new Map(input.actual.map(a => [a.id, a]));
  const ids = new Set(byId.keys());
  const gone = input.confirmedGone ?? new Set<string>();
  const ledger = new Map(input.ledger.map(e => [e.accountId, e]));
  const desired = new Map(input.desired.map(d => [d.accountId, d]));
  // A registration the key's user could have made (its external ID is theirs, or not shown).
  const sameUser = byKeyUser(input.externalId);

  for (const account of input.desired) {
    const entry = ledger.get(account.accountId);
    // An owned registration the list leaves out: asked for by its ID before anything is done about its absence.
    if (entry?.state === 'registered' && entry.cloudcraftId && !ids.has(entry.cloudcraftId) && !gone.has(entry.cloudcraftId)) {
      actions.push({ kind: 'confirm', account, cloudcraftId: entry.cloudcraftId, entry });
      continue;
    }
    // Registered under another user's external ID (the key's user changed, and the roles trust the new one): the
    // role no longer trusts it. Known from the ledger's own record, not from what the list says.
    const keyChanged = entry?.state === 'registered' && entry.cloudcraftId && ids.has(entry.cloudcraftId) && input.externalId
      && entry.externalId !== undefined && entry.externalId !== input.externalId;
    if (keyChanged) {
      actions.push({ kind: 'retire', accountId: account.accountId, cloudcraftId: entry.cloudcraftId!, why: 'registered under another Cloudcraft user\'s external ID: the API key now belongs to another user' });
      actions.push({ kind: 'register', account });
      continue;
    }
    // A ledger entry for another role (the role name or path changed): its registration is the old role's.
    const own = entry && entry.roleArn === account.roleArn ? entry : undefined;
    if (entry && !own) {
      if (entry.state === 'registered' && entry.cloudcraftId && ids.has(entry.cloudcraftId)) {
        actions.push({ kind: 'update', account, cloudcraftId: entry.cloudcraftId, changes: drift(byId.get(entry.cloudcraftId)!, account) });
        continue;
      }
    }
    const registrations = byRole.get(account.roleArn) ?? [];
    if (own?.goneSince !== undefined) actions.push({ kind: 'unmark-gone', accountId: account.accountId });

    if (own?.state === 'registered' && own.cloudcraftId && ids.has(own.cloudcraftId)) {
      const current = byId.get(own.cloudcraftId)!;
      const changes = drift(current, account);
      if (changes.length > 0) actions.push({ kind: 'update', account, cloudcraftId: current.id, changes });
      for (const extra of madeByPosts(registrations, own).filter(sameUser)) {
        if (extra.id !== current.id) actions.push({ kind: 'remove-extra', accountId: account.accountId, cloudcraftId: extra.id });
      }
      continue;
    }

    if (own?.state === 'posting') {
      // The registration its POST made, else one of the role the key's user made before (claimed, keeping the POST
      // times so that a late one of its own is still recognised); never another user's.
      const mine = madeByPosts(registrations, own).filter(sameUser);
      const kept = mine[0] ?? registrations.find(sameUser);
      if (kept) {
        actions.push({ kind: 'claim', account, cloudcraftId: kept.id, postedAt: own.postedAt, lastPostAt: own.lastPostAt });
        for (const extra of mine) if (extra.id !== kept.id) actions.push({ kind: 'remove-extra', accountId: account.accountId, cloudcraftId: extra.id });
        const changes = drift(kept, account);
        if (changes.length > 0) actions.push({ kind: 'update', account, cloudcraftId: kept.id, changes });
        continue;
      }
      if (own.postedAt !== undefined && input.now - Math.max(own.postedAt, own.lastPostAt ?? 0) < input.settleMs) {
        actions.push({ kind: 'wait', accountId: account.accountId, why: SETTLING });
        continue;
      }
      if (registrations.length === 0) {
        const attempts = own.attempts ?? 1;
        actions.push(attempts >= MAX_UNCONFIRMED_POSTS && !input.force
          ? { kind: 'give-up', account, previous: own, why: `${attempts} POSTs unconfirmed (5xx or no answer)` }
          : { kind: 'register', account, previous: own });
        continue;
      }
      // Only another user's registrations of the role: the conflict below.
    }

    // Nothing owned in Cloudcraft for this account (never registered, refused, or confirmed deleted by hand).
    if (registrations.length > 0) {
      const usable = registrations.find(sameUser);
      if (!usable) {
        actions.push({
          kind: 'wait',
          accountId: account.accountId,
          failed: true,
          why: `Cloudcraft already has ${registrations.map(r => `"${r.name ?? r.id}" (${r.id})`).join(', ')} for ${account.roleArn}, made by another Cloudcraft user (another external ID), which the role does not trust. Remove it in Cloudcraft; the registrar then registers the account.`,
        });
        continue;
      }
      actions.push({ kind: 'adopt', account, existing: usable });
      const changes = drift(usable, account);
      if (changes.length > 0) actions.push({ kind: 'update', account, cloudcraftId: usable.id, changes });
      continue;
    }
    if (own?.state === 'failed' && !input.force && own.retryAt !== undefined && own.retryAt > input.now) {
      actions.push({ kind: 'wait', accountId: account.accountId, failed: true, why: `refused before (${own.lastError ?? 'unknown'}); next try after ${new Date(own.retryAt).toISOString()}` });
      continue;
    }
    actions.push({ kind: 'register', account, previous: own });
  }

  // Owned accounts that are no longer desired: nothing at all when the desired set is not known whole.
  for (const entry of input.complete === false ? [] : input.ledger) {
    if (desired.has(entry.accountId)) continue;
    if (entry.state === 'failed' && entry.postedAt === undefined) {
      // A refused entry that keeps the window of an earlier unconfirmed POST is treated as that POST's (afterRefusal).
      actions.push({ kind: 'forget', accountId: entry.accountId, why: 'never registered, no longer desired' });
      continue;
    }
    const registrations = byRole.get(entry.roleArn) ?? [];
    const made = madeByPosts(registrations, entry).filter(sameUser).map(r => r.id);
    if (entry.state !== 'registered') {
      const lastPost = Math.max(entry.postedAt ?? 0, entry.lastPostAt ?? 0);
      if (made.length === 0 && lastPost > 0 && input.now - lastPost <= POST_LATE_MS + CLOCK_SKEW_MS) {
        // Not a reason to hold the run (the account is not wanted): a later run removes what shows up.
        actions.push({ kind: 'wait', accountId: entry.accountId, why: 'no longer desired; its last registration request may still complete' });
        continue;
      }
      if (made.length === 0) {
        actions.push({ kind: 'forget', accountId: entry.accountId, why: 'its unconfirmed registration never showed up' });
        continue;
      }
    }
    if (input.keep.has(entry.accountId)) {
      if (entry.goneSince !== undefined) actions.push({ kind: 'unmark-gone', accountId: entry.accountId });
      continue;
    }
    if (entry.goneSince === undefined) {
      actions.push({ kind: 'mark-gone', accountId: entry.accountId });
      continue;
    }
    if (input.now - entry.goneSince < input.graceMs || (input.runStartedAt !== undefined && entry.goneSince >= input.runStartedAt)) {
      actions.push({ kind: 'wait', accountId: entry.accountId, why: `no longer desired since ${new Date(entry.goneSince).toISOString()}; deregistered after the grace period` });
      continue;
    }
    // Its own registration by its ID, whether or not the list shows it (a DELETE of one that is gone answers 404).
    const targets = entry.state !== 'registered' ? made : [entry.cloudcraftId!, ...made.filter(id => id !== entry.cloudcraftId)];
    for (const id of targets) actions.push({ kind: 'deregister', accountId: entry.accountId, cloudcraftId: id });
  }
  return actions.sort((a, b) => ORDER[a.kind] - ORDER[b.kind]);
}

/** Why a run waits and looks again: an unconfirmed POST of its own may still show up in the list. */
export const SETTLING = 'an earlier registration request may still show up';

/**
 * The ledger entry after a refusal: back off 5 minutes, doubling, up to 6 hours. The window of an earlier POST that
 * was not confirmed (`entry` posting, or failed with one) is kept: that POST may still register the role late, and
 * the registration is then this entry's (claimed, or removed with the account or the stack).
 */
export function afterRefusal(entry: LedgerEntry | undefined, account: DesiredAccount, now: number, reason: string): LedgerEntry {
  const failures = (entry?.state === 'failed' ? entry.failures ?? 0 : 0) + 1;
  const backoffMs = Math.min(6 * 3600_000, 5 * 60_000 * 2 ** (failures - 1));
  const recent = entry?.postedAt !== undefined && now - Math.max(entry.postedAt, entry.lastPostAt ?? 0) <= POST_LATE_MS + CLOCK_SKEW_MS;
  const window = recent && entry.state !== 'registered' && entry.roleArn === account.roleArn ? { postedAt: entry.postedAt, lastPostAt: entry.lastPostAt } : {};
  return { accountId: account.accountId, roleArn: account.roleArn, state: 'failed', failures, retryAt: now + backoffMs, lastError: reason, ...window };
}

/** Every registration the ledger owns, for a deletion of the whole integration (DELETE by ID; 404 is done). */
export function planRemoveAll(ledger: LedgerEntry[], actual: CloudcraftAccount[], externalId?: string, now?: number): Action[] {
  const sameUser = byKeyUser(externalId);
  const actions: Action[] = [];
  for (const entry of ledger) {
    const registrations = actual.filter(a => a.roleArn === entry.roleArn).sort(oldestFirst);
    const targets = new Set<string>();
    // Its own registration by its ID, whether or not the list shows it: a list that left it out must not orphan it.
    if (entry.cloudcraftId && entry.state === 'registered') targets.add(entry.cloudcraftId);
    for (const r of madeByPosts(registrations, entry).filter(sameUser)) targets.add(r.id);
    const lastPost = Math.max(entry.postedAt ?? 0, entry.lastPostAt ?? 0);
    if (targets.size === 0 && entry.state !== 'registered' && now !== undefined && lastPost > 0 && now - lastPost <= POST_LATE_MS + CLOCK_SKEW_MS) {
      // Forgetting it would orphan the registration its POST may still make: it stays in the (retained) ledger.
      actions.push({ kind: 'wait', accountId: entry.accountId, why: 'its last registration request may still complete' });
    } else if (targets.size === 0) {actions.push({ kind: 'forget', accountId: entry.accountId, why: 'owns nothing in Cloudcraft' });}
    for (const id of targets) actions.push({ kind: 'deregister', accountId: entry.accountId, cloudcraftId: id });
  }
  return actions;
}
