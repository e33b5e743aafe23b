/**
 * The ledger table: what the registrar owns (one item per account), the deployment's settings, the lease, the key's
 * pacing, the record of the last finished run and the state of the daily policy check. Thin I/O over `AwsIo`; the decisions are in reconcile.ts (plan)
 * and lease.ts.
 */
import { AwsIo, StoredItem } from './aws';
import { Deployment, isDeployment } from './config';
import { askedSince, keep, LeaseRecord, LeaseRole, letGo, markDeleted, RunRequest, take, TakeResult } from './lease';
import { LedgerEntry } from './reconcile';
import { Clock } from '../../runtime/clock';
import { pacingStoreIn } from '../../runtime/items';
import { PacingStore } from '../../runtime/pacing';
import type { PolicyCheckState } from '../../runtime/policy-check';

const ACCOUNT = 'account#';
const DEPLOYMENT = 'meta#config';
const LEASE = 'meta#lease';
const RUN = 'meta#run';
/** The daily check of Cloudcraft's minimal policy (runtime/policy-check.ts). */
const POLICY = 'meta#policy';
/** Runs asked for while the lease was held: any, and a deployment's (refusal back-off ignored). */
const REQUEST = 'meta#request';
const FORCED_REQUEST = 'meta#request-forced';

/** What the last finished run left for the next ones. */
export interface RunRecord {
  /** When the last run that finished started: the stack-instance events sent well before it are covered. */
  readonly startedAt?: number;
  /** A digest of the key the external ID below was read with (not the key). */
  readonly keyDigest?: string;
  /** The external ID of the key's user, as Cloudcraft answered for that key. */
  readonly keyExternalId?: string;
}

export interface LedgerState {
  readonly entries: Map<string, LedgerEntry>;
  readonly deployment?: Deployment;
  readonly run: RunRecord;
  /** Whether the table holds anything at all (an empty one was emptied, or lost). */
  readonly empty: boolean;
}

/** The lease was lost (it lapsed, another invocation took it, or the stack's Delete came): no request may be sent. */
export class LeaseLost extends Error {
  constructor(readonly deleted: boolean) {
    super(deleted ? 'the stack\'s Delete started: this run stopped' : 'the lease was lost: this run stopped');
    this.name = 'LeaseLost';
  }
}

/** Compare-and-swap attempts on one item before giving up (others kept writing it). */
const CAS_ATTEMPTS = 8;

export class Ledger {
  constructor(private readonly io: AwsIo, readonly table: string) {}

  async read(): Promise<LedgerState> {
    const items = await this.io.ledgerScan(this.table);
    const entries = new Map<string, LedgerEntry>();
    let deployment: Deployment | undefined;
    let run: RunRecord = {};
    for (const { pk, data } of items) {
      if (pk.startsWith(ACCOUNT)) {
        const entry = data as LedgerEntry;
        if (entry && typeof entry.accountId === 'string' && typeof entry.roleArn === 'string') entries.set(entry.accountId, entry);
      } else if (pk === DEPLOYMENT && isDeployment(data)) {
        deployment = data;
      } else if (pk === RUN && data && typeof data === 'object') {
        run = data as RunRecord;
      }
    }
    return { entries, deployment, run, empty: items.length === 0 };
  }

  /** Records a deployment, unless the request was recorded already or is older than the one recorded (a late delivery). */
  async recordDeployment(deployment: Deployment, requestId: string, requestedAt: number | undefined): Promise<'recorded' | 'stale'> {
    const current = await this.deployment();
    if (current?.requestIds?.includes(requestId)) return 'stale';
    if (requestedAt !== undefined && current?.requestedAt !== undefined && requestedAt < current.requestedAt) return 'stale';
    const requestIds = [...(current?.requestIds ?? []), requestId].slice(-20);
    await this.io.ledgerPut(this.table, DEPLOYMENT, { ...deployment, requestIds, requestedAt: requestedAt ?? current?.requestedAt });
    return 'recorded';
  }

  async deployment(): Promise<Deployment | undefined> {
    const item = await this.io.ledgerGet(this.table, DEPLOYMENT);
    return isDeployment(item?.data) ? item.data : undefined;
  }

  async runRecord(): Promise<RunRecord> {
    const item = await this.io.ledgerGet(this.table, RUN);
    return (item?.data as RunRecord | undefined) ?? {};
  }

  async saveRun(record: RunRecord): Promise<void> {
    await this.io.ledgerPut(this.table, RUN, record);
  }

  async policyState(): Promise<PolicyCheckState | undefined> {
    return (await this.io.ledgerGet(this.table, POLICY))?.data as PolicyCheckState | undefined;
  }

  async savePolicyState(state: PolicyCheckState): Promise<void> {
    await this.io.ledgerPut(this.table, POLICY, state);
  }

  async write(entry: LedgerEntry): Promise<void> {
    await this.io.ledgerPut(this.table, `${ACCOUNT}${entry.accountId}`, entry);
  }

  async forget(accountId: string): Promise<void> {
    await this.io.ledgerDelete(this.table, `${ACCOUNT}${accountId}`);
  }

  async lease(): Promise<LeaseRecord> {
    return ((await this.io.ledgerGet(this.table, LEASE))?.data as LeaseRecord | undefined) ?? {};
  }

  /** Asks for one more run: a plain write of its own item (no compare-and-swap, so no contention). */
  async request(now: number, force: boolean): Promise<void> {
    const request: RunRequest = { at: now };
    await this.io.ledgerPut(this.table, REQUEST, request);
    if (force) await this.io.ledgerPut(this.table, FORCED_REQUEST, request);
  }

  async requests(): Promise<{ any?: RunRequest; forced?: RunRequest }> {
    const [any, forced] = await Promise.all([this.io.ledgerGet(this.table, REQUEST), this.io.ledgerGet(this.table, FORCED_REQUEST)]);
    return { any: any?.data as RunRequest | undefined, forced: forced?.data as RunRequest | undefined };
  }

  /**
   * Changes one item by compare-and-swap: `change` gets its data and returns the new data with a result, or only a
   * result (nothing to write). Tried again when another writer came first.
   */
  async update<T, R>(pk: string, change: (data: T | undefined) => { next?: T; result: R }): Promise<R> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const item: StoredItem | undefined = await this.io.ledgerGet(this.table, pk);
      const { next, result } = change(item?.data as T | undefined);
      if (next === undefined) return result;
      if (await this.io.ledgerPut(this.table, pk, next, item?.version ?? 0)) return result;
    }
    throw new Error(`the ledger item ${pk} kept changing under this invocation`);
  }

  updateLease<R>(change: (record: LeaseRecord) => { next?: LeaseRecord; result: R }): Promise<R> {
    return this.update<LeaseRecord, R>(LEASE, data => change(data ?? {}));
  }

  /** The key's pacing, shared by every invocation (and every caller of the key in this installation). */
  pacingStore(): PacingStore {
    const tables = { get: (table: string, pk: string) => this.io.ledgerGet(table, pk), put: this.io.ledgerPut.bind(this.io) };
    return pacingStoreIn(tables, this.table);
  }
}

/** The lease as one invocation holds it. */
export class Lease {
  private held = false;
  private takenAt?: number;

  constructor(private readonly ledger: Ledger, readonly owner: string, private readonly clock: Clock, private readonly role: LeaseRole) {}

  async take(): Promise<TakeResult> {
    const result = await this.ledger.updateLease(record => {
      const outcome = take(record, this.owner, this.clock.now(), this.role);
      return { next: outcome.kind === 'taken' ? outcome.record : undefined, result: outcome };
    });
    if (result.kind === 'taken') {
      this.held = true;
      this.takenAt = result.record.takenAt;
    }
    return result;
  }

  /** Asks the holder for one more run (a deployment's: `force`). */
  async ask(force: boolean): Promise<void> {
    await this.ledger.request(this.clock.now(), force);
  }

  /** Marks the stack's Delete: runs stop at their next request, and do nothing from then on. */
  async markDeleted(): Promise<void> {
    await this.ledger.updateLease(record => ({
      next: record.deletedAt !== undefined ? undefined : markDeleted(record, this.clock.now()),
      result: undefined,
    }));
  }

  /**
   * Keeps the lease for another while; throws `LeaseLost` when it is not this invocation's any more. When the stack's
   * Delete came, the lease is let go on the way, so that the Delete can take it at once.
   */
  async keep(): Promise<void> {
    const kept = await this.ledger.updateLease(record => {
      const outcome = keep(record, this.owner, this.clock.now(), this.role);
      return { next: outcome.kind === 'taken' ? undefined : outcome.record, result: outcome.kind };
    });
    if (kept !== 'kept') {
      this.held = false;
      throw new LeaseLost(kept === 'deleted');
    }
  }

  /**
   * Lets go of the lease; says whether a run was asked for since it was taken (and whether a deployment asked). Never
   * throws (a lease not let go lapses anyway).
   */
  async letGo(): Promise<{ rerun: boolean; force: boolean }> {
    if (!this.held) return { rerun: false, force: false };
    this.held = false;
    try {
      await this.ledger.updateLease(record => ({ next: record.owner === this.owner ? letGo(record, this.owner) : undefined, result: undefined }));
      // Read after letting go: a request written after this read finds the lease free, and its invocation runs.
      const { any, forced } = await this.ledger.requests();
      return { rerun: askedSince(any, this.takenAt), force: askedSince(forced, this.takenAt) };
    } catch {
      return { rerun: false, force: false };
    }
  }
}
