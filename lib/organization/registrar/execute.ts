/**
 * Carrying out a plan: each action's requests to Cloudcraft and its ledger writes, in order, until one stops the run.
 * What it did comes back as an `Outcome`, and why it stopped as a typed `Stop`, never as message text to parse.
 */
import { Ledger, LeaseLost } from './ledger';
import { Action, afterRefusal, DesiredAccount, LedgerEntry } from './reconcile';
import { Clock } from '../../runtime/clock';
import { CloudcraftClient, CloudcraftError, Log } from '../../runtime/cloudcraft';
import { CloudcraftAccount } from '../../runtime/policy';
import { registrationBody } from '../../runtime/registration';

export type StopKind =
  /** The invocation's time (or CloudFormation's window) is over: the next invocation takes it up. */
  | 'deadline'
  /** Cloudcraft refused the key itself (401, 403): every request would fail the same way. */
  | 'key-refused'
  /** The key now belongs to another Cloudcraft user than the one the member roles trust. */
  | 'key-user-changed'
  /** The lease lapsed or was taken: another invocation is the writer now. */
  | 'lease-lost'
  /** The stack's Delete started. */
  | 'deleted'
  /** Cloudcraft did not answer, or failed (5xx), after the bounded retries. */
  | 'unavailable'
  /** Cloudcraft kept answering 429 after the bounded retries. */
  | 'rate-limited'
  /** Cloudcraft's account list left out a registration that exists: nothing that rests on it is done. */
  | 'list-wrong'
  /** AWS could not be read (the StackSet's instances, the ledger). */
  | 'aws'
  | 'other';

export interface Stop {
  readonly kind: StopKind;
  readonly reason: string;
}

export interface Outcome {
  /** Changes Cloudcraft confirmed (registered, updated, removed, confirmed gone). */
  readonly progress: number;
  /** Registrations removed (deregistered, or duplicates of its own), or found already gone. */
  readonly removed: number;
  /** POSTs whose answer did not say whether they registered (looked for again after a while). */
  readonly ambiguous: number;
  /** Owned registrations confirmed gone by a direct request (the plan is made again with them). */
  readonly confirmedGone: string[];
  readonly stop?: Stop;
}

/** The typed reason of an error that ended a run. */
export function stopOf(err: unknown): Stop {
  if (err instanceof LeaseLost) return { kind: err.deleted ? 'deleted' : 'lease-lost', reason: err.message };
  if (err instanceof CloudcraftError) {
    const outcome = err.details.outcome;
    if (err.details.deadline) return { kind: 'deadline', reason: err.reason };
    if (outcome?.kind === 'response' && (outcome.status === 401 || outcome.status === 403)) return { kind: 'key-refused', reason: err.reason };
    if (outcome?.kind === 'response' && outcome.status === 429) return { kind: 'rate-limited', reason: err.reason };
    if (outcome && (outcome.kind === 'network' || outcome.status >= 500 || outcome.status === 408)) return { kind: 'unavailable', reason: err.reason };
    return { kind: 'other', reason: err.reason };
  }
  const e = err as { name?: string; message?: string };
  return { kind: 'other', reason: `${e?.name ?? 'Error'}: ${String(e?.message ?? err).slice(0, 300)}` };
}

/** Errors that concern one account only (a 400 refusal): the run goes on with the others. */
function accountOnly(err: unknown): err is CloudcraftError {
  if (!(err instanceof CloudcraftError) || err.details.deadline) return false;
  const o = err.details.outcome;
  return o?.kind === 'response' && o.status >= 400 && o.status < 500 && o.status !== 401 && o.status !== 403 && o.status !== 429 && o.status !== 408;
}

/**
 * Errors of a request that names one registration (PUT or DELETE of its ID) that concern it only: a refusal (4xx),
 * 403 included (one made under another Cloudcraft user may not be this key's to change), while the key works (the
 * list was read with it). A second 403 of the same execution is the key's, as 403 means for a POST.
 */
function refusedForOne(err: unknown, ctx: ExecutionContext): err is CloudcraftError {
  if (accountOnly(err)) return true;
  const o = err instanceof CloudcraftError && !err.details.deadline ? err.details.outcome : undefined;
  if (!(o?.kind === 'response' && o.status === 403)) return false;
  ctx.forbidden.count++;
  return ctx.forbidden.count <= 1;
}

export interface ExecutionContext {
  readonly client: CloudcraftClient;
  readonly ledger: Ledger;
  /** The ledger's entries, kept in step with every write. */
  readonly entries: Map<string, LedgerEntry>;
  /** Cloudcraft's accounts as last listed, kept in step with every change. */
  readonly seen: Map<string, CloudcraftAccount>;
  /** Accounts that failed in this run, with the reason. */
  readonly failures: Map<string, string>;
  readonly clock: Clock;
  readonly log: Log;
  /** The external ID of the key's user. */
  readonly externalId?: string;
  readonly verificationRegion?: string;
  /** 403s answered to requests naming one registration, in this run. */
  readonly forbidden: { count: number };
}

/** Carries out `actions` in order; stops at the first error that is not one account's. */
export async function execute(actions: Action[], ctx: ExecutionContext): Promise<Outcome> {
  const counts: Counts = { progress: 0, removed: 0, ambiguous: 0 };
  const confirmedGone: string[] = [];
  const remainingDeregistrations = new Map<string, number>();
  for (const a of actions) if (a.kind === 'deregister') remainingDeregistrations.set(a.accountId, (remainingDeregistrations.get(a.accountId) ?? 0) + 1);
  try {
    for (const action of actions) {
      // What confirmations found changes the plan: it is made again before anything else is done.
      if (action.kind !== 'confirm' && confirmedGone.length > 0) break;
      const stop = await one(action, ctx, counts, confirmedGone, remainingDeregistrations);
      if (stop) return { ...counts, confirmedGone, stop };
    }
  } catch (err) {
    return { ...counts, confirmedGone, stop: stopOf(err) };
  }
  return { ...counts, confirmedGone };
}

async function write(ctx: ExecutionContext, entry: LedgerEntry): Promise<void> {
  ctx.entries.set(entry.accountId, entry);
  await ctx.ledger.write(entry);
}

async function forget(ctx: ExecutionContext, accountId: string): Promise<void> {
  ctx.entries.delete(accountId);
  await ctx.ledger.forget(accountId);
}

/** The ledger entry of a registration the registrar owns from now on. */
function owned(ctx: ExecutionContext, account: DesiredAccount, registration: CloudcraftAccount, extra: Partial<LedgerEntry> = {}): LedgerEntry {
  return {
    accountId: account.accountId,
    roleArn: account.roleArn,
    state: 'registered',
    cloudcraftId: registration.id,
    ...(ctx.externalId ? { externalId: ctx.externalId } : {}),
    readAccess: registration.readAccess ?? null,
    writeAccess: registration.writeAccess ?? null,
    ...extra,
  };
}

interface Counts {
  progress: number;
  removed: number;
  ambiguous: number;
}

async function one(action: Action, ctx: ExecutionContext, counts: Counts, confirmedGone: string[],
  remainingDeregistrations: Map<string, number>): Promise<Stop | undefined> {
  const { client, log, seen, failures } = ctx;
  switch (action.kind) {
    case 'wait':
      if (action.failed) failures.set(action.accountId, action.why);
      log(action.failed ? 'warn' : 'info', 'account waits', { accountId: action.accountId, why: action.why });
      return undefined;
    case 'confirm': {
      const { account, cloudcraftId, entry } = action;
      try {
        const result = await client.update(cloudcraftId, registrationBody(account, { current: entry }), { roleArn: account.roleArn });
        if (result === 'gone') {
          confirmedGone.push(cloudcraftId);
          counts.progress++;
          log('info', 'an owned registration is gone from Cloudcraft (confirmed by its ID): registered again', { accountId: account.accountId, cloudcraftId });
          return undefined;
        }
        seen.set(cloudcraftId, { id: cloudcraftId, ...registrationBody(account, { current: entry }) } as CloudcraftAccount);
        return {
          kind: 'list-wrong',
          reason: `Cloudcraft's account list (GET /aws/account) left out the registration ${cloudcraftId} of account ${account.accountId}, which exists (its PUT was answered): the list is not complete, so nothing that rests on an absence from it was done in this run. The next run tries again.`,
        };
      } catch (err) {
        if (!refusedForOne(err, ctx)) throw err;
        failures.set(account.accountId, err.reason);
        log('warn', 'an owned registration missing from the list could not be confirmed', { accountId: account.accountId, cloudcraftId, reason: err.reason });
        return undefined;
      }
    }
    case 'claim': {
      const registration = seen.get(action.cloudcraftId) ?? { id: action.cloudcraftId };
      await write(ctx, owned(ctx, action.account, registration, { postedAt: action.postedAt, lastPostAt: action.lastPostAt }));
      log('info', 'confirmed an earlier registration', { accountId: action.account.accountId, cloudcraftId: action.cloudcraftId });
      return undefined;
    }
    case 'adopt':
      await write(ctx, owned(ctx, action.account, action.existing, { adopted: true }));
      log('info', 'adopted an existing registration of the role', { accountId: action.account.accountId, cloudcraftId: action.existing.id, previousName: action.existing.name });
      return undefined;
    case 'mark-gone': {
      const entry = ctx.entries.get(action.accountId);
      if (entry) await write(ctx, { ...entry, goneSince: ctx.clock.now() });
      log('info', 'no longer desired: deregistered after the grace period', { accountId: action.accountId });
      return undefined;
    }
    case 'unmark-gone': {
      const entry = ctx.entries.get(action.accountId);
      if (entry) await write(ctx, { ...entry, goneSince: undefined });
      return undefined;
    }
    case 'give-up':
      await write(ctx, afterRefusal(action.previous, action.account, ctx.clock.now(), action.why));
      failures.set(action.account.accountId, action.why);
      log('warn', 'registration refused', { accountId: action.account.accountId, reason: action.why });
      return undefined;
    case 'forget':
      await forget(ctx, action.accountId);
      log('info', 'ledger entry dropped', { accountId: action.accountId, why: action.why });
      return undefined;
    case 'register':
      await register(action.account, action.previous, ctx, counts);
      return undefined;
    case 'update': {
      const current = seen.get(action.cloudcraftId);
      const entry = ctx.entries.get(action.account.accountId);
      try {
        const body = registrationBody(action.account, { current: current ?? entry });
        const result = await client.update(action.cloudcraftId, body, { roleArn: action.account.roleArn });
        if (result === 'updated') {
          counts.progress++;
          const after = { ...(current ?? { id: action.cloudcraftId }), ...body } as CloudcraftAccount;
          seen.set(action.cloudcraftId, after);
          const latest = ctx.entries.get(action.account.accountId);
          if (latest?.cloudcraftId === action.cloudcraftId) {
            const lists = { readAccess: after.readAccess ?? null, writeAccess: after.writeAccess ?? null };
            await write(ctx, { ...latest, roleArn: action.account.roleArn, ...lists });
          }
          log('info', 'updated', { accountId: action.account.accountId, cloudcraftId: action.cloudcraftId, changes: action.changes });
        } else {
          seen.delete(action.cloudcraftId);
        }
      } catch (err) {
        if (!refusedForOne(err, ctx)) throw err;
        failures.set(action.account.accountId, err.reason);
        log('warn', 'update refused', { accountId: action.account.accountId, reason: err.reason });
      }
      return undefined;
    }
    case 'retire': {
      try {
        await client.remove(action.cloudcraftId);
        counts.progress++;
        log('warn', 'removed a registration made under another Cloudcraft user', { accountId: action.accountId, cloudcraftId: action.cloudcraftId, why: action.why });
      } catch (err) {
        // Another user's registration may not be ours to remove (403): it stays, reported; the account is registered anew.
        if (!refusedForOne(err, ctx)) throw err;
        log('warn', 'a registration made under another Cloudcraft user stays in Cloudcraft: remove it there', { accountId: action.accountId, cloudcraftId: action.cloudcraftId, reason: err.reason });
      }
      seen.delete(action.cloudcraftId);
      return undefined;
    }
    case 'remove-extra':
    case 'deregister': {
      let result: 'removed' | 'gone';
      try {
        result = await client.remove(action.cloudcraftId);
      } catch (err) {
        // Refused for this one: it stays owned (tried again by the next run), and the others go on.
        if (!refusedForOne(err, ctx)) throw err;
        failures.set(action.accountId, err.reason);
        log('warn', 'deregistration refused', { accountId: action.accountId, cloudcraftId: action.cloudcraftId, reason: err.reason });
        return undefined;
      }
      seen.delete(action.cloudcraftId);
      counts.progress++;
      counts.removed++;
      log('info', action.kind === 'deregister' ? 'deregistered' : 'removed a duplicate this registrar made', { accountId: action.accountId, cloudcraftId: action.cloudcraftId, ...(result === 'gone' ? { alreadyGone: true } : {}) });
      if (action.kind === 'deregister') {
        const left = (remainingDeregistrations.get(action.accountId) ?? 1) - 1;
        remainingDeregistrations.set(action.accountId, left);
        if (left === 0) await forget(ctx, action.accountId);
      }
      return undefined;
    }
  }
}

/** Errors after which no POST of a call can have registered: a refusal answered by Cloudcraft, the deadline, the lease. */
function certainlyNotRegistered(err: unknown): boolean {
  if (err instanceof LeaseLost) return true;
  if (!(err instanceof CloudcraftError)) return false;
  const o = err.details.outcome;
  return err.details.deadline === true || (o?.kind === 'response' && o.status >= 400 && o.status < 500 && o.status !== 408);
}

async function register(account: DesiredAccount, previous: LedgerEntry | undefined, ctx: ExecutionContext, counts: Counts): Promise<void> {
  const { client, log, clock } = ctx;
  const earlier = previous?.state === 'posting' ? previous.postedAt : undefined;
  const attempts = earlier !== undefined ? (previous?.attempts ?? 1) + 1 : 1;
  let postedAt: number | undefined;
  // Write-ahead, right before each POST is sent (not before the pacer's wait: a run stopped before sending must not
  // leave an "unconfirmed POST"): a POST whose answer is lost is recognised by the next plan (registrations of the
  // role made from the first POST to shortly after the last one).
  const onSend = async () => {
    const now = clock.now();
    postedAt ??= earlier ?? now;
    await write(ctx, { accountId: account.accountId, roleArn: account.roleArn, state: 'posting', postedAt, lastPostAt: now, attempts });
  };
  try {
    const region = ctx.verificationRegion;
    let result;
    try {
      result = await client.register(registrationBody(account, { region }), { roleArn: account.roleArn, region }, onSend);
    } catch (err) {
      // A refusal, the deadline or the lease lost: no POST of this call registered anything (an answer that may have
      // ends the call as `ambiguous`), and the write-ahead record of them is undone. Any other error (the ledger or
      // the pacing record failing after an answer) leaves it: an unconfirmed POST is the state that loses nothing.
      if (postedAt !== undefined && certainlyNotRegistered(err)) {
        if (previous) await write(ctx, previous);
        else await forget(ctx, account.accountId);
      }
      throw err;
    }
    if (result.kind === 'registered') {
      await write(ctx, owned(ctx, account, result.account, { postedAt, lastPostAt: ctx.entries.get(account.accountId)?.lastPostAt }));
      ctx.seen.set(result.account.id, result.account);
      ctx.failures.delete(account.accountId);
      counts.progress++;
      log('info', 'registered', { accountId: account.accountId, cloudcraftId: result.account.id, name: account.name });
    } else {
      counts.ambiguous++;
      log('warn', 'registration unconfirmed: looked for again later', { accountId: account.accountId, why: result.reason });
    }
  } catch (err) {
    if (!accountOnly(err)) throw err;
    // The entry before this POST (a refused POST registered nothing): its failures count up the back-off, and an
    // earlier unconfirmed POST's window is kept.
    await write(ctx, afterRefusal(previous, account, clock.now(), err.reason));
    ctx.failures.set(account.accountId, err.reason);
    log('warn', 'registration refused', { accountId: account.accountId, reason: err.reason });
  }
}
