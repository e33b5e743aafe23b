/**
 * The registrar's lease: how one writer is guaranteed without reserved concurrency. One record in the ledger table,
 * changed only by compare-and-swap on its version (a DynamoDB conditional write), says who may talk to Cloudcraft
 * and until when. An invocation takes it before its first request and keeps it (for another `LEASE_TTL_MS`) right
 * before every request it sends; one that finds it held asks for one more run (a request of its own, see
 * `RunRequest`) and ends at once, so nothing queues behind a 15-minute run. The stack's Delete marks the record: a
 * run sees the mark at its next request and lets go, and from then on only the Delete may hold the lease.
 *
 * Pure decisions on the record; ledger.ts does the compare-and-swap.
 */

export interface LeaseRecord {
  readonly owner?: string;
  readonly expiresAt?: number;
  /** When the owner took it: a run asked for after that is run once more when it lets go. */
  readonly takenAt?: number;
  /** When the stack's Delete started: runs do nothing from then on. */
  readonly deletedAt?: number;
}

/**
 * A run asked for by an invocation that found the lease held. Written as a plain item of its own (no
 * compare-and-swap: a hundred stack-instance events at once must not fight over the lease's record).
 */
export interface RunRequest {
  readonly at: number;
}

export type LeaseRole = 'run' | 'delete';

/**
 * How long a lease lasts without being kept: far longer than one request (15 s at the most), so a request sent right
 * after the lease was kept ends before it can lapse; short enough that a holder that died frees it in minutes.
 */
export const LEASE_TTL_MS = 2 * 60_000;

export type TakeResult =
  | { readonly kind: 'taken'; readonly record: LeaseRecord }
  | { readonly kind: 'held'; readonly owner: string; readonly expiresAt: number }
  | { readonly kind: 'deleted' };

export function take(record: LeaseRecord, me: string, now: number, role: LeaseRole): TakeResult {
  if (role === 'run' && record.deletedAt !== undefined) return { kind: 'deleted' };
  if (record.owner !== undefined && record.owner !== me && (record.expiresAt ?? 0) > now) {
    return { kind: 'held', owner: record.owner, expiresAt: record.expiresAt ?? 0 };
  }
  return { kind: 'taken', record: { owner: me, expiresAt: now + LEASE_TTL_MS, takenAt: now, ...(record.deletedAt !== undefined ? { deletedAt: record.deletedAt } : {}) } };
}

export type KeepResult =
  | { readonly kind: 'kept'; readonly record: LeaseRecord }
  /** Another invocation took it (after it lapsed): nothing to write. */
  | { readonly kind: 'taken' }
  /** The stack's Delete came: the lease is let go at once (the record to write), so that the Delete need not wait. */
  | { readonly kind: 'deleted'; readonly record: LeaseRecord };

/**
 * The record kept for another `LEASE_TTL_MS`. The owner keeps it even after it lapsed, as long as nobody took it
 * (the compare-and-swap proves that): a run whose reads of AWS took long goes on.
 */
export function keep(record: LeaseRecord, me: string, now: number, role: LeaseRole): KeepResult {
  if (record.owner !== me) return { kind: 'taken' };
  if (role === 'run' && record.deletedAt !== undefined) return { kind: 'deleted', record: letGo(record, me) };
  return { kind: 'kept', record: { ...record, expiresAt: now + LEASE_TTL_MS } };
}

/** The record once `me` lets go (unchanged when it is not `me`'s). */
export function letGo(record: LeaseRecord, me: string): LeaseRecord {
  if (record.owner !== me) return record;
  const { owner: _owner, expiresAt: _expiresAt, takenAt: _takenAt, ...rest } = record;
  return rest;
}

/** Whether a run was asked for after the holder took the lease (it starts one more when it lets go). */
export function askedSince(request: RunRequest | undefined, takenAt: number | undefined): boolean {
  return request !== undefined && takenAt !== undefined && request.at >= takenAt;
}

export function markDeleted(record: LeaseRecord, now: number): LeaseRecord {
  return record.deletedAt !== undefined ? record : { ...record, deletedAt: now };
}
