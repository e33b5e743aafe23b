/**
 * The diagram work's decisions, pure: which account-region is due next in a round, what one snapshot answer means,
 * and the target's record after it. run.ts does the I/O; nothing here reads a clock or the network.
 *
 * A round is opened by the user's schedule (default daily) and worked on by ticks until every target of it is done.
 * Per target and round: one JSON snapshot. When its hash differs from the last one written (or there is none), the
 * JSON is written, each image format is rendered, and once they are written an event announces the change. A 202
 * (STILL_PROCESSING) is never waited for in a function: the target is put back and polled again later, a bounded
 * number of times per round.
 */
import { blueprintDue, BlueprintRecord } from './blueprint-plan';
import { CallOutcome, errorMessage, truncate } from '../../runtime/policy';
import { Diagram, DiagramChange, unwrapSnapshot } from '../../runtime/snapshot';

/** An account-region whose diagram is kept. */
export interface Target {
  readonly accountId: string;
  readonly region: string;
  /** Cloudcraft's registration id (not the AWS account id). */
  readonly registrationId: string;
}

/** A change whose images are being rendered. */
export interface PendingChange {
  readonly hash: string;
  /** When the JSON was taken. */
  readonly at: number;
  /** Keys written for the new version (json first, images as they are written). */
  readonly keys: Record<string, string>;
  /** The previous version's keys (none the first time). */
  readonly previousKeys?: Record<string, string>;
  readonly change: DiagramChange;
  /** Image formats still to render. */
  readonly formats: string[];
}

/** What is kept per target between rounds. */
export interface TargetRecord extends Target {
  /** The round it was last done in. */
  readonly round?: number;
  /** The hash of the version written last (its images complete or given up). */
  readonly hash?: string;
  /** The keys of that version. */
  readonly keys?: Record<string, string>;
  /** When its last JSON snapshot was taken. */
  readonly snapshotAt?: number;
  /** When its diagram last changed. */
  readonly changedAt?: number;
  /** The versions before the latest, newest first (`HISTORY_VERSIONS` at most): the index links them. */
  readonly history?: Array<{ readonly at: number; readonly keys: Record<string, string> }>;
  /** A change whose images are not all rendered yet. */
  readonly pending?: PendingChange;
  /** A change written and not yet announced (put again until EventBridge takes it, `MAX_ANNOUNCE_ATTEMPTS` times). */
  readonly announce?: PendingChange;
  /** PutEvents that failed for `announce`. */
  readonly announceFailures?: number;
  /** Polls of the current request that answered 202 (or failed in a way worth trying again), this round. */
  readonly polls?: number;
  /** Not before this time (after a 202 or a transient failure). */
  readonly nextAt?: number;
  /** Why the last round could not do it. */
  readonly lastError?: string;
  /** Failures of this function's own I/O for the target (S3, DynamoDB) since its last success. */
  readonly errors?: number;
  /** The machine-owned blueprint (the `blueprints` option). */
  readonly blueprint?: BlueprintRecord;
}

/** Earlier versions a record lists (their objects stay until the bucket's lifecycle expires them). */
export const HISTORY_VERSIONS = 10;
/** Failures of the function's own I/O for one target before it is skipped for the round (one per invocation). */
export const MAX_ERRORS = 3;
/** Attempts to announce one change (one per invocation) before it is given up with an error. */
export const MAX_ANNOUNCE_ATTEMPTS = 5;
/** Polls of one request per round (a 202 is answered after a 120 s long poll: six are more than ten minutes of scanning). */
export const MAX_POLLS = 6;
/** The wait before polling again after a 202 or a transient failure: a minute per poll so far, at most five. */
export function repollDelay(polls: number): number {
  return Math.min(5, Math.max(1, polls)) * 60_000;
}

/** What one snapshot answer means. */
export type SnapshotAnswer =
  | { readonly kind: 'json'; readonly diagram: Diagram }
  | { readonly kind: 'image'; readonly bytes: Uint8Array }
  /** 202 STILL_PROCESSING: poll again later. */
  | { readonly kind: 'processing' }
  /** 404: Cloudcraft has no such registration (the account is no longer registered): skipped this round. */
  | { readonly kind: 'gone' }
  /** 400 (the region, or a rendering option, is refused) or 403 (the key may not see this registration): this target only. */
  | { readonly kind: 'refused'; readonly reason: string }
  /** 401: the key is not accepted at all; the run stops (one error for all targets). */
  | { readonly kind: 'unauthorized'; readonly status: number; readonly reason: string }
  /** 429, 5xx, no answer, an answer that is not a diagram: try again later in the round. */
  | { readonly kind: 'transient'; readonly reason: string };

export function classifySnapshot(outcome: CallOutcome, format: string): SnapshotAnswer {
  if (outcome.kind === 'network') return { kind: 'transient', reason: `no answer (${outcome.error})` };
  const said = errorMessage(outcome.body);
  const detail = said ? `: "${truncate(said, 200)}"` : '';
  if (outcome.status === 202) return { kind: 'processing' };
  if (outcome.status === 200) {
    if (format !== 'json') {
      const bytes = outcome.bytes ?? new TextEncoder().encode(outcome.rawText ?? outcome.text);
      return bytes.byteLength > 0 ? { kind: 'image', bytes } : { kind: 'transient', reason: `the ${format} answer was empty` };
    }
    const diagram = unwrapSnapshot(outcome.body);
    return diagram ? { kind: 'json', diagram } : { kind: 'transient', reason: 'the JSON snapshot was not a diagram (no list of components)' };
  }
  if (outcome.status === 404) return { kind: 'gone' };
  if (outcome.status === 400) return { kind: 'refused', reason: `Cloudcraft refused the ${format} snapshot (400${detail})` };
  if (outcome.status === 403) {
    return { kind: 'refused', reason: `Cloudcraft refused the ${format} snapshot (403${detail}): the key's user may not see this registration, or the key lacks the privileges` };
  }
  if (outcome.status === 401) return { kind: 'unauthorized', status: outcome.status, reason: `Cloudcraft answered ${outcome.status}${detail}` };
  return { kind: 'transient', reason: `Cloudcraft answered ${outcome.status}${detail}` };
}

/** What to ask for next for a target in a round. */
export type Step =
  | { readonly kind: 'done' }
  /** Not before `at` (a 202 or a transient failure). */
  | { readonly kind: 'later'; readonly at: number }
  | { readonly kind: 'fetch'; readonly format: string }
  /** Put the change event (no Cloudcraft call). */
  | { readonly kind: 'announce' }
  /** Write the diagram's blueprint (the `blueprints` option). */
  | { readonly kind: 'blueprint' };

/** `blueprints`: whether the option is on (a version the blueprint does not hold is then work to do). */
export function nextStep(record: TargetRecord, round: number, now: number, blueprints = false): Step {
  if (record.announce) return { kind: 'announce' };
  if (blueprints && !record.pending && blueprintDue(record.hash, record.blueprint)) return { kind: 'blueprint' };
  if (record.round !== undefined && record.round >= round && !record.pending) return { kind: 'done' };
  if (record.nextAt !== undefined && record.nextAt > now) return { kind: 'later', at: record.nextAt };
  if (record.pending && record.pending.formats.length > 0) return { kind: 'fetch', format: record.pending.formats[0] };
  return { kind: 'fetch', format: 'json' };
}

/**
 * The order targets are worked in: those already under way (a change being rendered, then a 202 being polled), then
 * those never snapshotted, then the oldest snapshot first. Stable for equal ones.
 */
export function workOrder(records: TargetRecord[]): TargetRecord[] {
  const rank = (r: TargetRecord) => r.announce || r.pending ? 0 : r.polls ? 1 : r.snapshotAt === undefined ? 2 : 3;
  return records.map((r, i) => ({ r, i }))
    .sort((a, b) => rank(a.r) - rank(b.r) || (a.r.snapshotAt ?? 0) - (b.r.snapshotAt ?? 0) || a.i - b.i)
    .map(({ r }) => r);
}

/** What the run must do after an answer: write objects, announce a change. */
export type Effect =
  /** Write the JSON snapshot (dated key and latest) and read the previous version for the change. */
  | { readonly kind: 'write-json'; readonly change: PendingChange; readonly diagram: Diagram }
  /** Every image of a change is written (or given up): announce it (not the first version), then forget `announce`. */
  | { readonly kind: 'announce'; readonly change: PendingChange };

/** A target's record after an answer, and what the run must do. */
export interface Next {
  readonly record: TargetRecord;
  readonly effects: Effect[];
}

/** The record after a JSON answer whose hash is `hash` (the caller computed it), and what to do. */
export function afterJson(record: TargetRecord, round: number, now: number, hash: string, formats: string[],
  keys: (format: string) => string, change: DiagramChange, diagram: Diagram): Next {
  const base = { ...clearPolls(record), snapshotAt: now };
  if (record.hash === hash) {
    return { record: { ...base, round, lastError: undefined }, effects: [] };
  }
  const pending: PendingChange = {
    hash, at: now, keys: { json: keys('json') }, ...(record.keys ? { previousKeys: record.keys } : {}), change, formats: [...formats],
  };
  return settle({ ...base, pending, lastError: undefined }, round, [{ kind: 'write-json', change: pending, diagram }]);
}

/** The record after an image was written. */
export function afterImage(record: TargetRecord, round: number, format: string, key: string): Next {
  const pending = record.pending!;
  return settle({
    ...clearPolls(record),
    pending: { ...pending, keys: { ...pending.keys, [format]: key }, formats: pending.formats.filter(f => f !== format) },
  }, round, []);
}

/** The record after a 202 or a transient failure: polled again later, or given up for this round. */
export function afterDelay(record: TargetRecord, round: number, now: number, format: string, reason: string): Next {
  const polls = (record.polls ?? 0) + 1;
  if (polls < MAX_POLLS) return { record: { ...record, polls, nextAt: now + repollDelay(polls) }, effects: [] };
  const lastError = `${reason}: the ${format} snapshot was not ready after ${polls} polls; tried again next round`;
  if (record.pending && format !== 'json') {
    // An image that does not come: the change is announced without it.
    const formats = record.pending.formats.filter(f => f !== format);
    return settle({ ...clearPolls(record), lastError, pending: { ...record.pending, formats } }, round, []);
  }
  return { record: { ...clearPolls(record), round, lastError }, effects: [] };
}

/**
 * The record after a 404, 400 or 403: done for this round, with the reason. For an image of a change, that format is
 * given up and the change settles without it (the JSON is written: the change must become the latest version, once).
 */
export function afterRefusal(record: TargetRecord, round: number, format: string, reason: string): Next {
  if (record.pending && format !== 'json') {
    const formats = record.pending.formats.filter(f => f !== format);
    return settle({ ...clearPolls(record), lastError: reason, pending: { ...record.pending, formats } }, round, []);
  }
  return { record: { ...clearPolls(record), round, pending: undefined, lastError: reason }, effects: [] };
}

/** The record after this function's own I/O failed for it (S3, DynamoDB): tried again, `MAX_ERRORS` times a round. */
export function afterError(record: TargetRecord, round: number, reason: string): TargetRecord {
  const errors = (record.errors ?? 0) + 1;
  if (errors < MAX_ERRORS) return { ...record, errors, lastError: reason };
  // The JSON may be written and the record not: the next round sees the change again, and writes it again.
  return { ...clearPolls(record), round, pending: undefined, lastError: `${reason} (${errors} times: skipped this round)` };
}

/** The record after PutEvents failed: tried again by a later invocation, `MAX_ANNOUNCE_ATTEMPTS` times at the most. */
export function afterAnnounceFailed(record: TargetRecord, reason: string): TargetRecord {
  const failures = (record.announceFailures ?? 0) + 1;
  if (failures < MAX_ANNOUNCE_ATTEMPTS) return { ...record, announceFailures: failures };
  const { announce: _announce, announceFailures: _failures, ...rest } = record;
  return { ...rest, lastError: `the change of ${new Date(record.announce?.at ?? 0).toISOString()} was not announced after ${failures} attempts: ${reason}` };
}

/** A change with every image written (or given up) becomes the latest version, and is announced. */
function settle(record: TargetRecord, round: number, effects: Effect[]): Next {
  const pending = record.pending;
  if (!pending || pending.formats.length > 0) return { record, effects };
  // The first version is no change: nothing is announced.
  const announce = pending.previousKeys ? pending : undefined;
  const history = record.keys && record.changedAt !== undefined
    ? [{ at: record.changedAt, keys: record.keys }, ...(record.history ?? [])].slice(0, HISTORY_VERSIONS) : record.history;
  return {
    record: {
      ...record,
      pending: undefined,
      round,
      hash: pending.hash,
      keys: pending.keys,
      changedAt: pending.at,
      ...(history ? { history } : {}),
      ...(announce ? { announce } : {}),
    },
    effects: announce ? [...effects, { kind: 'announce', change: announce }] : effects,
  };
}

/** The record once its change was announced. */
export function afterAnnounce(record: TargetRecord): TargetRecord {
  const { announce: _announce, announceFailures: _failures, ...rest } = record;
  return rest;
}

function clearPolls(record: TargetRecord): TargetRecord {
  const { polls: _polls, nextAt: _nextAt, errors: _errors, ...rest } = record;
  return rest;
}
