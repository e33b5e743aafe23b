/**
 * The ledger table: what the registrar owns (one item per account), the deployment's settings, the lease, the key's
 * pacing and the record of the last finished run. Thin I/O over `AwsIo`; the decisions are in reconcile.ts (plan)
 * and lease.ts.
 */
import { AwsIo, StoredItem } from './aws';
import { Deployment, isDeployment } from './config';
import { ask, keep, LeaseRecord, LeaseRole, letGo, markDeleted, take, TakeResult } from './lease';
import { LedgerEntry } from './reconcile';
import { Clock } from '../../runtime/clock';
import { PacerState } from '../../runtime/pacer';
import { PacingStore } from '../../runtime/pacing';

const ACCOUNT = 'account#';
const DEPLOYMENT = 'meta#config';
const LEASE = 'meta#lease';
const PACER = 'meta#pacer';
const RUN = 'meta#run';

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

  async deployment(): Promise<Deployment | undefined> {
    const item = await this.io.ledgerGet(this.table, DEPLOYMENT);
    return isDeployment(item?.data) ? item.data : undefined;
  }

  async recordDeployment(deployment: Deployment): Promise<void> {
    await this.io.ledgerPut(this.table, DEPLOYMENT, deployment);
  }

  async runRecord(): Promise<RunRecord> {
    const item = await this.io.ledgerGet(this.table, RUN);
    return (item?.data as RunRecord | undefined) ?? {};
  }

  async saveRun(record: RunRecord): Promise<void> {
    await this.io.ledgerPut(this.table, RUN, record);
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
    return {
      read: async () => {
        const item = await this.io.ledgerGet(this.table, PACER);
        return { state: item?.data as PacerState | undefined, version: item?.version };
      },
      write: (state, version) => this.io.ledgerPut(this.table, PACER, state, version ?? 0),
    };
  }
}

/** The lease as one invocation holds it. */
export class Lease {
  private held = false;

  constructor(private readonly ledger: Ledger, readonly owner: string, private readonly clock: Clock, private readonly role: LeaseRole) {}

  async take(): Promise<TakeResult> {
    const result = await this.ledger.updateLease(record => {
      const outcome = take(record, this.owner, this.clock.now(), this.role);
      return { next: outcome.kind === 'taken' ? outcome.record : undefined, result: outcome };
    });
    this.held = result.kind === 'taken';
    return result;
  }

  /** Asks the holder for one more run (a deployment's: `force`). */
  async ask(force: boolean): Promise<void> {
    await this.ledger.updateLease(record => ({ next: ask(record, this.clock.now(), force), result: undefined }));
  }

  /** Marks the stack's Delete: runs stop at their next request, and do nothing from then on. */
  async markDeleted(): Promise<void> {
    await this.ledger.updateLease(record => ({ next: markDeleted(record, this.clock.now()), result: undefined }));
  }

  /** Keeps the lease for another while; throws `LeaseLost` when it is not this invocation's any more. */
  async keep(): Promise<void> {
    const kept = await this.ledger.updateLease(record => {
      const next = keep(record, this.owner, this.clock.now(), this.role);
      return { next, result: next !== undefined ? { ok: true } : { ok: false, deleted: record.deletedAt !== undefined } };
    });
    if (!kept.ok) {
      this.held = false;
      throw new LeaseLost(kept.deleted === true);
    }
  }

  /** Lets go of the lease; says whether a run was asked for meanwhile. Never throws (the lease lapses anyway). */
  async letGo(): Promise<{ rerun: boolean; force: boolean }> {
    if (!this.held) return { rerun: false, force: false };
    this.held = false;
    try {
      return await this.ledger.updateLease(record => {
        const out = letGo(record, this.owner);
        return { next: record.owner === this.owner ? out.record : undefined, result: { rerun: out.rerun, force: out.force } };
      });
    } catch {
      return { rerun: false, force: false };
    }
  }
}
