/**
 * The registrar's AWS I/O, thin: Organizations (read-only), StackSet stack instances, the DynamoDB ledger, and the
 * asynchronous invocation that continues a run. Each client is loaded on first use, with require() so the Lambda
 * runtime's SDK v3 is found through NODE_PATH; every client honours AWS_ENDPOINT_URL_*, which tests point at local
 * stand-ins. Tests may replace the whole object.
 */

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
}

export interface AwsIo {
  managementAccountId(): Promise<string | undefined>;
  accountsOf(parentId: string): Promise<OrgAccount[]>;
  ousOf(parentId: string): Promise<string[]>;
  describeAccount(accountId: string): Promise<OrgAccount | undefined>;
  stackInstances(stackSetName: string, callAs: 'SELF' | 'DELEGATED_ADMIN', region: string): Promise<StackInstance[]>;
  ledgerRead(table: string): Promise<Array<{ pk: string; data: unknown }>>;
  ledgerWrite(table: string, pk: string, data: unknown): Promise<void>;
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
  let dynamodb: import('@aws-sdk/client-dynamodb').DynamoDBClient | undefined;
  let lambda: import('@aws-sdk/client-lambda').LambdaClient | undefined;
  const orgs = () => {
    const sdk = require('@aws-sdk/client-organizations') as typeof import('@aws-sdk/client-organizations');
    // Organizations is a global service: the SDK resolves its endpoint for the partition.
    organizations ??= new sdk.OrganizationsClient({ maxAttempts: 8 });
    return { sdk, client: organizations };
  };
  return {
    async managementAccountId() {
      const { sdk, client } = orgs();
      const out = await client.send(new sdk.DescribeOrganizationCommand({}));
      return out.Organization?.MasterAccountId;
    },

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
          instances.push({ account: s.Account ?? '', region: s.Region ?? '', status: s.Status, detailedStatus: s.StackInstanceStatus?.DetailedStatus });
        }
      }
      return instances;
    },

    async ledgerRead(table) {
      const sdk = require('@aws-sdk/client-dynamodb') as typeof import('@aws-sdk/client-dynamodb');
      dynamodb ??= new sdk.DynamoDBClient({ maxAttempts: 8 });
      const items: Array<{ pk: string; data: unknown }> = [];
      for await (const page of sdk.paginateScan({ client: dynamodb }, { TableName: table, ConsistentRead: true })) {
        for (const item of page.Items ?? []) {
          const pk = item.pk?.S;
          const data = item.data?.S;
          if (pk && data) {
            try {
              items.push({ pk, data: JSON.parse(data) });
            } catch {
            // An item written by hand or by another tool: not the registrar's.
            }
          }
        }
      }
      return items;
    },

    async ledgerWrite(table, pk, data) {
      const sdk = require('@aws-sdk/client-dynamodb') as typeof import('@aws-sdk/client-dynamodb');
      dynamodb ??= new sdk.DynamoDBClient({ maxAttempts: 8 });
      await dynamodb.send(new sdk.PutItemCommand({ TableName: table, Item: { pk: { S: pk }, data: { S: JSON.stringify(data) } } }));
    },

    async ledgerDelete(table, pk) {
      const sdk = require('@aws-sdk/client-dynamodb') as typeof import('@aws-sdk/client-dynamodb');
      dynamodb ??= new sdk.DynamoDBClient({ maxAttempts: 8 });
      await dynamodb.send(new sdk.DeleteItemCommand({ TableName: table, Key: { pk: { S: pk } } }));
    },

    async invokeAsync(functionName, payload) {
      const sdk = require('@aws-sdk/client-lambda') as typeof import('@aws-sdk/client-lambda');
      lambda ??= new sdk.LambdaClient({ maxAttempts: 3 });
      await lambda.send(new sdk.InvokeCommand({ FunctionName: functionName, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify(payload)) }));
    },
  };
}
