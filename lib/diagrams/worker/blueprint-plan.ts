/**
 * The blueprint option's decisions, pure: one machine-owned Cloudcraft blueprint per account-region, made from the
 * diagram's JSON snapshot (Cloudcraft's "scan and auto layout" flow) and written again when the diagram changes.
 * run.ts does the I/O.
 *
 * A person may edit the blueprint in Cloudcraft. The library writes with `If-Match: <the ETag of the version it wrote
 * last>`: a 412 means someone else changed it, and what follows is the user's choice (`BlueprintMode`). When
 * Cloudcraft sends no ETag (the reference says it does; not observed), the version's `LastUserId` tells it instead:
 * anyone but the user who created it (the API key's) changed it.
 *
 * One request per step; a step that cannot be done now is taken up by a later invocation, `MAX_BLUEPRINT_ATTEMPTS`
 * times per change.
 */
import { CallOutcome, errorMessage, truncate } from '../../runtime/policy';

/** What is done with a blueprint someone edited: left alone (reported "diverged"), overwritten, or forked. */
export type BlueprintMode = 'leave' | 'overwrite' | 'fork';

export const BLUEPRINT_MODES: readonly BlueprintMode[] = ['leave', 'overwrite', 'fork'];

/** Attempts per change before the blueprint is left as it is until the next change. */
export const MAX_BLUEPRINT_ATTEMPTS = 3;
/** Blueprints left to people by `fork` that are remembered (so a lost POST's answer never adopts one of them). */
export const MAX_LEFT_BLUEPRINTS = 10;

/** A target's blueprint, kept in its record. */
export interface BlueprintRecord {
  readonly id?: string;
  /** The ETag of the version this library wrote last (none when Cloudcraft sends none). */
  readonly etag?: string;
  /** The user who created it: the API key's. */
  readonly owner?: string;
  /** The hash of the diagram it holds. */
  readonly hash?: string;
  /** A POST whose answer was lost: it may exist; looked for by name before posting again. */
  readonly unsure?: boolean;
  /** When a person's edit was found (mode `leave`); the hash it was found for (tried again at the next change). */
  readonly divergedAt?: number;
  readonly divergedHash?: string;
  /** Failed attempts for `failedHash`; that hash is given up after `MAX_BLUEPRINT_ATTEMPTS`. */
  readonly failures?: number;
  readonly failedHash?: string;
  /** Forked blueprints, now the people's (newest first). */
  readonly left?: string[];
  /** Why the last attempt failed. */
  readonly lastError?: string;
}

/** Whether the blueprint must be written: the diagram has a version it does not hold, not given up, not diverged. */
export function blueprintDue(hash: string | undefined, blueprint: BlueprintRecord | undefined): boolean {
  if (hash === undefined) return false;
  const b = blueprint ?? {};
  if (b.hash === hash || b.divergedHash === hash) return false;
  return !(b.failedHash === hash && (b.failures ?? 0) >= MAX_BLUEPRINT_ATTEMPTS);
}

/** The one request a blueprint step makes. */
export type BlueprintCall =
  /** GET /blueprint: find the blueprint of a POST whose answer was lost, by its name. */
  | { readonly kind: 'find' }
  /** POST /blueprint. */
  | { readonly kind: 'create' }
  /** GET /blueprint/{id}: who changed it last, and its ETag (when the version written last has no ETag). */
  | { readonly kind: 'check' }
  /** PUT /blueprint/{id}, guarded by If-Match when `ifMatch` is given (`checked`: the ETag a check just read). */
  | { readonly kind: 'update'; readonly ifMatch?: string; readonly checked?: boolean };

export function blueprintCall(blueprint: BlueprintRecord | undefined, checked?: { readonly etag?: string }): BlueprintCall {
  const b = blueprint ?? {};
  if (b.unsure) return { kind: 'find' };
  if (b.id === undefined) return { kind: 'create' };
  if (b.etag !== undefined) return { kind: 'update', ifMatch: b.etag };
  if (checked) return { kind: 'update', checked: true, ...(checked.etag !== undefined ? { ifMatch: checked.etag } : {}) };
  return { kind: 'check' };
}

/** What one blueprint answer means. */
export type BlueprintAnswer =
  | { readonly kind: 'ok'; readonly status: number; readonly etag?: string; readonly body: unknown }
  /** 412: someone changed it since the version named in If-Match. */
  | { readonly kind: 'edited' }
  /** 404: it was deleted (a person may delete a blueprint). */
  | { readonly kind: 'gone' }
  | { readonly kind: 'unauthorized'; readonly reason: string }
  /** 400, 403: not this change (the reason is kept). */
  | { readonly kind: 'refused'; readonly reason: string }
  /** No answer, a 5xx, a 429: tried again later; a POST's may have been done. */
  | { readonly kind: 'transient'; readonly reason: string; readonly maybeDone: boolean };

export function classifyBlueprint(outcome: CallOutcome): BlueprintAnswer {
  if (outcome.kind === 'network') return { kind: 'transient', reason: `no answer (${outcome.error})`, maybeDone: outcome.cause !== 'local' };
  const said = errorMessage(outcome.body);
  const detail = said ? `: "${truncate(said, 200)}"` : '';
  // A weak ETag (W/"...") never matches If-Match, which compares strongly (RFC 9110, 13.1.1): treated as none.
  const etag = outcome.etag && !outcome.etag.startsWith('W/') ? outcome.etag : undefined;
  if (outcome.status >= 200 && outcome.status < 300) return { kind: 'ok', status: outcome.status, ...(etag ? { etag } : {}), body: outcome.body };
  if (outcome.status === 412) return { kind: 'edited' };
  if (outcome.status === 404) return { kind: 'gone' };
  if (outcome.status === 401) return { kind: 'unauthorized', reason: `Cloudcraft answered 401${detail}` };
  if (outcome.status === 400 || outcome.status === 403) return { kind: 'refused', reason: `Cloudcraft refused the blueprint (${outcome.status}${detail})` };
  return { kind: 'transient', reason: `Cloudcraft answered ${outcome.status}${detail}`, maybeDone: outcome.status >= 500 || outcome.status === 408 };
}

/** What happened, for the run's counts and log. */
export type BlueprintEvent = 'written' | 'diverged' | 'forked' | 'failed' | 'none';

export interface BlueprintNext {
  readonly blueprint: BlueprintRecord;
  readonly event: BlueprintEvent;
  /** A `check` found who changed it last: the update follows in the same step, with this ETag (if any). */
  readonly checked?: { readonly etag?: string };
}

/**
 * The blueprint's record after an answer to `call`, for the diagram version `hash`. `name` is the blueprint's name
 * (how a lost POST's blueprint is found).
 */
export function afterBlueprint(blueprint: BlueprintRecord | undefined, call: BlueprintCall, answer: BlueprintAnswer,
  hash: string, mode: BlueprintMode, now: number, name: string): BlueprintNext {
  const b: BlueprintRecord = blueprint ?? {};
  const failed = (reason: string, extra: Partial<BlueprintRecord> = {}): BlueprintNext => {
    const failures = b.failedHash === hash ? (b.failures ?? 0) + 1 : 1;
    const given = failures >= MAX_BLUEPRINT_ATTEMPTS ? ` (${failures} attempts: left as it is until the diagram changes)` : '';
    return { blueprint: { ...b, ...extra, failures, failedHash: hash, lastError: `${reason}${given}` }, event: 'failed' };
  };
  if (answer.kind === 'unauthorized') return { blueprint: b, event: 'none' };
  if (answer.kind === 'refused') return failed(answer.reason);
  if (answer.kind === 'transient') {
    // A POST that may have been done: look for it before posting again (no idempotency key).
    return failed(answer.reason, call.kind === 'create' && answer.maybeDone ? { unsure: true } : {});
  }
  switch (call.kind) {
    case 'find': {
      if (answer.kind !== 'ok') return failed(`Cloudcraft answered the blueprint list with ${answer.kind}`);
      const found = ownBlueprint(answer.body, name, b.left ?? []);
      const { unsure: _unsure, ...rest } = b;
      // Found: its content is not known to be this version (written again, after a check); not found: posted again.
      return { blueprint: found ? { ...rest, id: found.id, owner: found.owner, etag: undefined, hash: undefined } : { ...rest, id: undefined }, event: 'none' };
    }
    case 'create': {
      if (answer.kind !== 'ok') return failed(`Cloudcraft answered the new blueprint with ${answer.kind}`);
      const created = answer.body as { id?: unknown; CreatorId?: unknown } | null;
      if (typeof created?.id !== 'string' || created.id === '') return failed('Cloudcraft created the blueprint without an id in its answer', { unsure: true });
      return { blueprint: written({ ...b, id: created.id, owner: typeof created.CreatorId === 'string' ? created.CreatorId : undefined }, hash, answer.etag), event: 'written' };
    }
    case 'check': {
      if (answer.kind === 'gone') return { blueprint: forget(b), event: 'none' };
      if (answer.kind !== 'ok') return failed(`Cloudcraft answered the blueprint with ${answer.kind}`);
      const lastUser = (answer.body as { LastUserId?: unknown } | null)?.LastUserId;
      if (b.owner !== undefined && typeof lastUser === 'string' && lastUser !== b.owner) return edited(b, hash, mode, now);
      return { blueprint: b, event: 'none', checked: answer.etag !== undefined ? { etag: answer.etag } : {} };
    }
    case 'update': {
      if (answer.kind === 'gone') return { blueprint: forget(b), event: 'none' };
      if (answer.kind === 'edited') {
        if (call.ifMatch === undefined) return failed('Cloudcraft answered 412 to a write without If-Match');
        // The ETag a check just read, refused: not a person's edit; bounded as a failure.
        if (call.checked) return failed('Cloudcraft refused the blueprint\'s own current ETag (412)');
        // Our own earlier write may have landed with its answer lost: who changed it last tells (a check, then the write).
        if (b.owner !== undefined) return { blueprint: { ...b, etag: undefined }, event: 'none' };
        return edited(b, hash, mode, now);
      }
      return { blueprint: written(b, hash, answer.etag), event: 'written' };
    }
  }
}

/** Someone else changed the blueprint. */
function edited(b: BlueprintRecord, hash: string, mode: BlueprintMode, now: number): BlueprintNext {
  if (mode === 'overwrite') {
    // Written again without If-Match in the same step (the owner stays: a later mode can still tell edits).
    return { blueprint: { ...b, etag: undefined }, event: 'none', checked: {} };
  }
  if (mode === 'fork') {
    // The edited blueprint is the people's now; a new one is made from the diagram.
    return { blueprint: { ...forget(b), left: [b.id!, ...(b.left ?? [])].slice(0, MAX_LEFT_BLUEPRINTS) }, event: 'forked' };
  }
  return { blueprint: { ...b, divergedAt: now, divergedHash: hash }, event: 'diverged' };
}

function written(b: BlueprintRecord, hash: string, etag: string | undefined): BlueprintRecord {
  const { failures: _f, failedHash: _h, lastError: _e, divergedAt: _d, divergedHash: _dh, unsure: _u, ...rest } = b;
  return { ...rest, hash, etag };
}

/** The blueprint is gone (deleted, or left to people): the next write makes a new one. */
function forget(b: BlueprintRecord): BlueprintRecord {
  const { id: _id, etag: _etag, owner: _owner, hash: _hash, divergedAt: _d, divergedHash: _dh, ...rest } = b;
  return rest;
}

/** The newest blueprint of the list with this name that was not left to people. */
function ownBlueprint(body: unknown, name: string, left: string[]): { id: string; owner?: string } | undefined {
  const list = (body as { blueprints?: unknown } | null)?.blueprints;
  if (!Array.isArray(list)) return undefined;
  const candidates = list
    .filter((x): x is { id: string; name?: unknown; createdAt?: unknown; CreatorId?: unknown } => typeof x?.id === 'string' && x.id !== '')
    .filter(x => x.name === name && !left.includes(x.id))
    .sort((x, y) => String(y.createdAt ?? '').localeCompare(String(x.createdAt ?? '')));
  const found = candidates[0];
  return found ? { id: found.id, ...(typeof found.CreatorId === 'string' ? { owner: found.CreatorId } : {}) } : undefined;
}

/** The blueprint's name: one per account and region, recognisable as the library's. */
export function blueprintName(accountId: string, region: string): string {
  return `Live diagram ${accountId} ${region} (cdk-cloudcraft)`;
}
