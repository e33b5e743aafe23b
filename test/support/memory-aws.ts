/**
 * The registrar's AWS side in memory, for its scenario tests (`AwsIo` without the SDK): an Organization (root, OUs,
 * accounts with State), the StackSet's instances, the ledger table (items with versions, compare-and-swap as a
 * DynamoDB conditional write does it) and the invocations it sends itself. Faults are injected per operation, named
 * as AWS names them. The contract of the SDK adapter with the real services' shapes is tested apart, against the
 * local stand-ins (test/aws-standins.test.ts) and in the bundle test.
 *
 * Semantics from AWS's API references (the shared AWS notes of the project): ListAccountsForParent and
 * ListOrganizationalUnitsForParent fail with ParentNotFoundException for an unknown parent; DescribeAccount with
 * AccountNotFoundException (the adapter answers undefined); accounts of the Organization keep their State.
 */
import { AwsIo, OrgAccount, StackInstance, StoredItem } from '../../lib/organization/registrar/aws';
import { Clock } from '../../lib/runtime/clock';

export type AccountState = 'PENDING_ACTIVATION' | 'ACTIVE' | 'SUSPENDED' | 'PENDING_CLOSURE' | 'CLOSED';

/** An error as the SDK raises it: its `name` is AWS's error code. */
export class AwsError extends Error {
  constructor(name: string, message = name) {
    super(message);
    this.name = name;
  }
}

export class MemoryOrganizations {
  readonly rootId = 'r-ab12';
  private readonly ous = new Map<string, { name: string; parentId: string }>();
  private readonly accounts = new Map<string, { name: string; state: AccountState; parentId: string }>();
  private ouCounter = 0;
  private accountCounter = 0;

  constructor(readonly managementAccountId: string) {
    this.accounts.set(managementAccountId, { name: 'management', state: 'ACTIVE', parentId: this.rootId });
  }

  addOu(parentId: string, name: string): string {
    this.requireParent(parentId);
    const id = `ou-${this.rootId.slice(2)}-${String(++this.ouCounter).padStart(8, '0')}`;
    this.ous.set(id, { name, parentId });
    return id;
  }

  /** Deletes an (empty or not) OU: its accounts and OUs become unreachable, as in a moved-away or deleted subtree. */
  removeOu(id: string): void {
    this.ous.delete(id);
  }

  addAccount(opts: { name: string; parentId: string; state?: AccountState }): string {
    this.requireParent(opts.parentId);
    const id = String(200000000000 + ++this.accountCounter);
    this.accounts.set(id, { name: opts.name, state: opts.state ?? 'ACTIVE', parentId: opts.parentId });
    return id;
  }

  moveAccount(id: string, parentId: string): void {
    this.requireParent(parentId);
    this.account(id).parentId = parentId;
  }

  setState(id: string, state: AccountState): void {
    this.account(id).state = state;
  }

  removeAccount(id: string): void {
    this.account(id);
    this.accounts.delete(id);
  }

  renameAccount(id: string, name: string): void {
    this.account(id).name = name;
  }

  accountsOf(parentId: string): OrgAccount[] {
    this.requireParent(parentId);
    return [...this.accounts.entries()].filter(([, a]) => a.parentId === parentId).map(([id, a]) => ({ id, name: a.name, state: a.state }));
  }

  ousOf(parentId: string): string[] {
    this.requireParent(parentId);
    return [...this.ous.entries()].filter(([, o]) => o.parentId === parentId).map(([id]) => id);
  }

  describeAccount(id: string): OrgAccount | undefined {
    const a = this.accounts.get(id);
    return a ? { id, name: a.name, state: a.state } : undefined;
  }

  private requireParent(id: string): void {
    if (id !== this.rootId && !this.ous.has(id)) throw new AwsError('ParentNotFoundException', 'We can\'t find a root or OU with the ParentId that you specified.');
  }

  private account(id: string) {
    const a = this.accounts.get(id);
    if (!a) throw new Error(`no account ${id}`);
    return a;
  }
}

export class MemoryStackSet {
  private readonly instances = new Map<string, StackInstance>();

  setInstance(instance: StackInstance & { readonly ou?: string }): void {
    const { ou: _ou, ...rest } = instance;
    this.instances.set(`${instance.account}/${instance.region}`, rest);
  }

  removeInstance(account: string, region: string): void {
    this.instances.delete(`${account}/${region}`);
  }

  list(): StackInstance[] {
    return [...this.instances.values()];
  }
}

export class MemoryLedger {
  readonly items = new Map<string, { data: string; version: number }>();

  get(pk: string): StoredItem | undefined {
    const item = this.items.get(pk);
    return item ? { pk, data: JSON.parse(item.data), version: item.version } : undefined;
  }

  clear(): void {
    this.items.clear();
  }
}

export type Operation =
  | 'ListAccountsForParent' | 'ListOrganizationalUnitsForParent' | 'DescribeAccount' | 'ListStackInstances'
  | 'Scan' | 'GetItem' | 'PutItem' | 'DeleteItem' | 'Invoke' | 'PutEvents';

export interface MemoryAwsOptions {
  readonly managementAccountId: string;
  /** The clock that `latency` runs on (a virtual one in tests). */
  readonly clock?: Clock;
}

/** Organizations, the StackSet, the ledger and Lambda's Invoke, in memory. */
export class MemoryAws {
  readonly orgs: MemoryOrganizations;
  readonly cfn = new MemoryStackSet();
  readonly ledger = new MemoryLedger();
  readonly invocations: Array<{ functionName: string; payload: any }> = [];
  /** Events put on the default bus. */
  readonly events: Array<{ detailType: string; detail: Record<string, unknown> }> = [];
  readonly calls: Array<{ operation: Operation; input: unknown }> = [];
  /** How long each call of an operation takes (on the options' clock). */
  readonly latency: Partial<Record<Operation, number>> = {};
  private faults: Array<{ operation: Operation; error: string; left: number; when?: (input: any) => boolean }> = [];

  constructor(private readonly options: MemoryAwsOptions) {
    this.orgs = new MemoryOrganizations(options.managementAccountId);
  }

  /** The next `times` calls of `operation` (matching `when`) fail with the AWS error `error`. */
  failNext(operation: Operation, error: string, times = 1, when?: (input: any) => boolean): void {
    this.faults.push({ operation, error, left: times, when });
  }

  private async call(operation: Operation, input: unknown): Promise<void> {
    this.calls.push({ operation, input });
    const latency = this.latency[operation];
    if (latency && this.options.clock) await this.options.clock.sleep(latency);
    const fault = this.faults.find(f => f.operation === operation && f.left > 0 && (!f.when || f.when(input)));
    if (fault) {
      fault.left--;
      throw new AwsError(fault.error);
    }
  }

  /** The `AwsIo` the registrar is given. Copies go in and out, as over the wire. */
  io(): AwsIo {
    return {
      accountsOf: async parentId => {
        await this.call('ListAccountsForParent', { parentId });
        return this.orgs.accountsOf(parentId);
      },
      ousOf: async parentId => {
        await this.call('ListOrganizationalUnitsForParent', { parentId });
        return this.orgs.ousOf(parentId);
      },
      describeAccount: async accountId => {
        await this.call('DescribeAccount', { accountId });
        return this.orgs.describeAccount(accountId);
      },
      stackInstances: async (stackSetName, callAs, region) => {
        await this.call('ListStackInstances', { stackSetName, callAs, region });
        return this.cfn.list().filter(i => i.region === region).map(i => ({ ...i }));
      },
      ledgerScan: async () => {
        await this.call('Scan', {});
        return [...this.ledger.items.keys()].map(pk => this.ledger.get(pk)!);
      },
      ledgerGet: async (_table, pk) => {
        await this.call('GetItem', { pk });
        return this.ledger.get(pk);
      },
      ledgerPut: async (_table, pk, data, expected) => {
        await this.call('PutItem', { pk, data, expected });
        const current = this.ledger.items.get(pk);
        if (expected !== undefined && (current?.version ?? 0) !== expected) return false;
        this.ledger.items.set(pk, { data: JSON.stringify(data), version: expected === undefined ? 0 : expected + 1 });
        return true;
      },
      ledgerDelete: async (_table, pk) => {
        await this.call('DeleteItem', { pk });
        this.ledger.items.delete(pk);
      },
      invokeAsync: async (functionName, payload) => {
        await this.call('Invoke', { functionName });
        this.invocations.push({ functionName, payload: JSON.parse(JSON.stringify(payload)) });
      },
      putEvent: async (detailType, detail) => {
        await this.call('PutEvents', { detailType });
        this.events.push({ detailType, detail: JSON.parse(JSON.stringify(detail)) });
      },
    };
  }
}
