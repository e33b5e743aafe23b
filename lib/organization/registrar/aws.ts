/**
 * The registrar's AWS I/O, thin: Organizations (read-only), StackSet stack instances, the DynamoDB ledger (items
 * with a version, for compare-and-swap), and the asynchronous invocation that continues a run. Each client is loaded on first use, with require() so the Lambda
 * runtime's SDK v3 is found through NODE_PATH; every client honours AWS_ENDPOINT_URL_*, which tests point at local
 * stand-ins. Tests may replace the whole object.
 */
import { PutEvent, sdkPutEvent } from '../../runtime/events';
import { sdkItemTables, StoredItem } from '../../runtime/items';

export interface OrgAccount {
  readonly id: string;
  readonly name: string;
  /** `State` (ACTIVE, SUSPENDED, PENDING_CLOSURE, CLOSED, PENDING_ACTIVATION), or the older `Status` when State is absent. */
  readonly state: string;
}

export interface StackInstance {
  readonly account: string;
  readonly region: string;
  readonly status?: string;
  readonly detailedStatus?: string;
  /** Why the instance is in its state (StatusReason), as StackSets says it. */
  readonly statusReason?: string;
}

/** An item of the ledger table, with its version (for compare-and-swap). */
export type { StoredItem };

export interface AwsIo {
  /** Puts one of the library's events on the default bus (runtime/events.ts). */
  readonly putEvent: PutEvent;
  accountsOf(parentId: string): Promise<OrgAccount[]>;
  ousOf(parentId: string): Promise<string[]>;
  describeAccount(accountId: string): Promise<OrgAccount | undefined>;
  stackInstances(stackSetName: string, callAs: 'SELF' | 'DELEGATED_ADMIN', region: string): Promise<StackInstance[]>;
  /** Every item of the ledger table (strongly consistent). */
  ledgerScan(table: string): Promise<StoredItem[]>;
  /** One item (strongly consistent); undefined when there is none. */
  ledgerGet(table: string, pk: string): Promise<StoredItem | undefined>;
  /**
   * Writes an item. With `expected`, only while its version is still that one (0: no item, or one without a
   * version), and then as version `expected + 1`: false when someone else wrote first.
   */
  ledgerPut(table: string, pk: string, data: unknown, expected?: number): Promise<boolean>;
  ledgerDelete(table: string, pk: string): Promise<void>;
  invokeAsync(functionName: string, payload: unknown): Promise<void>;
}

/* eslint-disable @typescript-eslint/no-require-imports */
function toAccount(a: { Id?: string; Name?: string; State?: string; Status?: string }): OrgAccount {
  return { id: a.Id ?? '', name: a.Name ?? '', state: String(a.State ?? a.Status ?? 'UNKNOWN') };
}

/** The I/O through the AWS SDK v3; each instance creates its clients on first use. */
export function sdkIo(): AwsIo {
  let organizations: import('@aws-sdk/client-organizations').OrganizationsClient | undefined;
  let cloudformation: import('@aws-sdk/client-cloudformation').CloudFormationClient | undefined;
  let lambda: import('@aws-sdk/client-lambda').LambdaClient | undefined;
  const orgs = () => {
    const sdk = require('@aws-sdk/client-organizations') as typeof import('@aws-sdk/client-organizations');
    // Organizations is a global service: the SDK resolves its endpoint for the partition.
    organizations ??= new sdk.OrganizationsClient({ maxAttempts: 8 });
    return { sdk, client: organizations };
  };
  const items = sdkItemTables();
  return {
    async accountsOf(parentId) {
      const { sdk, client } = orgs();
      const accounts: OrgAccount[] = [];
      for await (const page of sdk.paginateListAccountsForParent({ client }, { ParentId: parentId })) {
        accounts.push(...(page.Accounts ?? []).map(toAccount));
      }
      return accounts;
    },

    async ousOf(parentId) {
      const { sdk, client } = orgs();
      const ous: string[] = [];
      for await (const page of sdk.paginateListOrganizationalUnitsForParent({ client }, { ParentId: parentId })) {
        ous.push(...(page.OrganizationalUnits ?? []).map(ou => ou.Id ?? '').filter(id => id !== ''));
      }
      return ous;
    },

    async describeAccount(accountId) {
      const { sdk, client } = orgs();
      try {
        const out = await client.send(new sdk.DescribeAccountCommand({ AccountId: accountId }));
        return out.Account ? toAccount(out.Account) : undefined;
      } catch (err) {
        if ((err as { name?: string }).name === 'AccountNotFoundException') return undefined;
        throw err;
      }
    },

    async stackInstances(stackSetName, callAs, region) {
      const sdk = require('@aws-sdk/client-cloudformation') as typeof import('@aws-sdk/client-cloudformation');
      cloudformation ??= new sdk.CloudFormationClient({ maxAttempts: 8 });
      const instances: StackInstance[] = [];
      const input = { StackSetName: stackSetName, CallAs: callAs, StackInstanceRegion: region };
      for await (const page of sdk.paginateListStackInstances({ client: cloudformation }, input)) {
        for (const s of page.Summaries ?? []) {
          instances.push({
            account: s.Account ?? '',
            region: s.Region ?? '',
            status: s.Status,
            detailedStatus: s.StackInstanceStatus?.DetailedStatus,
            statusReason: s.StatusReason,
          });
        }
      }
      return instances;
    },

    ledgerScan: table => items.scan(table),
    ledgerGet: (table, pk) => items.get(table, pk),
    ledgerPut: (table, pk, data, expected) => items.put(table, pk, data, expected),
    ledgerDelete: (table, pk) => items.remove(table, pk),

    async invokeAsync(functionName, payload) {
      const sdk = require('@aws-sdk/client-lambda') as typeof import('@aws-sdk/client-lambda');
      lambda ??= new sdk.LambdaClient({ maxAttempts: 3 });
      await lambda.send(new sdk.InvokeCommand({ FunctionName: functionName, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify(payload)) }));
    },

    putEvent: sdkPutEvent(),
  };
}
