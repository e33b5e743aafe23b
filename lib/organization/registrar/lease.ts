/**
 * The registrar's lease: how one writer is guaranteed without reserved concurrency. One record in the ledger table,
 * changed only by compare-and-swap on its version (a DynamoDB conditional write), says who may talk to Cloudcraft
 * and until when. An invocation takes it before its first request and keeps it (for another `LEASE_TTL_MS`) right
 * before every request it sends; one that finds it held asks the holder to run again
 * and ends at once, so nothing queues behind a 15-minute run. The stack's Delete marks the record: a run sees the mark
 * at its next request and lets go, and from then on only the Delete may hold the lease.
 *
 * Pure decisions on the record; ledger.ts does the compare-and-swap.
 */

export interface LeaseRecord {
  readonly owner?: string;
  readonly expiresAt?: number;
  /** When a run was asked for while the lease was held: the holder starts one more run when it lets go. */
  readonly requestedAt?: number;
  /** A deployment asked for that run (refusal back-off is ignored). */
  readonly force?: boolean;
  /** When the stack's Delete started: runs do nothing from then on. */
  readonly deletedAt?: number;
}

export type LeaseRole = 'run' | 'delete';

/**
 * How long a lease lasts without being kept: far longer than one request (15 s at the most), so a request sent right
 * after the lease was kept ends before it can lapse; short enough that a holder that died frees it in minutes.
 */
export const LEASE_TTL_MS = 2 * 60_000;

export type TakeResult =
  | { readonly kind: 'taken'; readonly record: LeaseRecord; readonly requested: boolean; readonly force: boolean }
  | { readonly kind: 'held'; readonly owner: string; readonly expiresAt: number }
  | { readonly kind: 'deleted' };

export function take(record: LeaseRecord, me: string, now: number, role: LeaseRole): TakeResult {
  if (role === 'run' && record.deletedAt !== undefined) return { kind: 'deleted' };
  if (record.owner !== undefined && record.owner !== me && (record.expiresAt ?? 0) > now) {
    return { kind: 'held', owner: record.owner, expiresAt: record.expiresAt ?? 0 };
  }
  // Taking the lease answers the requests made before: the run that takes it reads everything afresh.
  return {
    kind: 'taken',
    record: { owner: me, expiresAt: now + LEASE_TTL_MS, ...(record.deletedAt !== undefined ? { deletedAt: record.deletedAt } : {}) },
    requested: record.requestedAt !== undefined,
    force: record.force === true,
  };
}

/** The record kept for another `LEASE_TTL_MS`; undefined when the lease is lost (another owner, or the Delete came). */
export function keep(record: LeaseRecord, me: string, now: number, role: LeaseRole): LeaseRecord | undefined {
  if (record.owner !== me) return undefined;
  if (role === 'run' && record.deletedAt !== undefined) return undefined;
  if ((record.expiresAt ?? 0) <= now) return undefined;
  return { ...record, expiresAt: now + LEASE_TTL_MS };
}

/** The record once `me` lets go; `rerun` when a run was asked for meanwhile. */
export function letGo(record: LeaseRecord, me: string): { record: LeaseRecord; rerun: boolean; force: boolean } {
  if (record.owner !== me) return { record, rerun: false, force: false };
  const { owner: _owner, expiresAt: _expiresAt, requestedAt, force, ...rest } = record;
  return { record: rest, rerun: requestedAt !== undefined && rest.deletedAt === undefined, force: force === true };
}

/** Asks the holder for one more run (a deployment: with `force`). */
export function ask(record: LeaseRecord, now: number, force: boolean): LeaseRecord {
  return { ...record, requestedAt: now, ...(force || record.force ? { force: true } : {}) };
}

export function markDeleted(record: LeaseRecord, now: number): LeaseRecord {
  return record.deletedAt !== undefined ? record : { ...record, deletedAt: now };
}
