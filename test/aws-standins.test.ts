/**
 * Self-tests of the local AWS stand-ins the Organization registrar is tested against, driven by the REAL AWS SDK v3
 * clients (static fake credentials, `endpoint` = the stand-in, no retries): if a stand-in answered in a shape the
 * SDK does not parse the way AWS's answers are parsed, these fail. Facts: the AWS API references of Organizations (https://docs.aws.amazon.com/organizations/latest/APIReference/),
 * CloudFormation (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/) and Lambda.
 */
import {
  CloudFormationClient, ListStackInstancesCommand, ListStackInstancesCommandInput, paginateListStackInstances, StackInstanceSummary,
} from '@aws-sdk/client-cloudformation';
import { GetItemCommand, PutItemCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  Account, DescribeAccountCommand, DescribeOrganizationCommand, ListParentsCommand, ListRootsCommand, OrganizationsClient,
  paginateListAccounts, paginateListAccountsForParent, paginateListChildren, paginateListOrganizationalUnitsForParent,
  paginateListParents, paginateListRoots,
} from '@aws-sdk/client-organizations';
import { LocalCloudFormation } from './support/local-cloudformation';
import { createLedgerTable, localDynamoClient, startDynalite } from './support/local-dynamodb';
import { LocalLambda } from './support/local-lambda';
import { LocalOrganizations } from './support/local-organizations';
import { sdkStackResourcesReader } from '../lib/registration/handler/stack-resources';

const clientConfig = (endpoint: string) => ({
  endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' },
  maxAttempts: 1,
});

/** Everything a paginator yields, flattened. */
async function all<P, T>(pages: AsyncIterable<P>, items: (page: P) => T[] | undefined): Promise<T[]> {
  const out: T[] = [];
  for await (const page of pages) out.push(...(items(page) ?? []));
  return out;
}

/** The error a promise rejects with (fails the test if it resolves). */
async function errorOf(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to fail');
}

describe('LocalOrganizations', () => {
  let orgs: LocalOrganizations;
  let client: OrganizationsClient;

  beforeEach(async () => {
    orgs = await new LocalOrganizations({ pageSize: 2 }).start();
    client = new OrganizationsClient(clientConfig(orgs.url));
  });
  afterEach(async () => {
    client.destroy();
    await orgs.stop();
  });

  test('the organization and its root, in the shapes the SDK parses', async () => {
    const { Organization } = await client.send(new DescribeOrganizationCommand({}));
    expect(Organization).toMatchObject({
      Id: 'o-abcdefghij',
      MasterAccountId: '111111111111',
      FeatureSet: 'ALL',
      MasterAccountArn: 'arn:aws:organizations::111111111111:account/o-abcdefghij/111111111111',
    });
    const roots = await all(paginateListRoots({ client }, {}), p => p.Roots);
    expect(roots).toEqual([expect.objectContaining({ Id: 'r-ab12', Name: 'Root', Arn: 'arn:aws:organizations::111111111111:root/o-abcdefghij/r-ab12' })]);
    const management = await client.send(new DescribeAccountCommand({ AccountId: '111111111111' }));
    expect(management.Account).toMatchObject({ Id: '111111111111', State: 'ACTIVE', Status: 'ACTIVE' });
    expect(orgs.calls.map(c => c.operation)).toEqual(['DescribeOrganization', 'ListRoots', 'DescribeAccount']);
  });

  test('ids are deterministic and well formed; options change them', async () => {
    const other = new LocalOrganizations({ managementAccountId: '999999999999', organizationId: 'o-zzzzzzzzzz', rootId: 'r-zz99' });
    const ids = [orgs.addOu(orgs.rootId, 'a'), other.addOu(other.rootId, 'a'), orgs.addAccount({ name: 'x', parentId: orgs.rootId })];
    expect(ids[0]).toMatch(/^ou-ab12-[0-9a-z]{8,}$/);
    expect(ids[1]).toMatch(/^ou-zz99-[0-9a-z]{8,}$/);
    expect(ids[2]).toMatch(/^\d{12}$/);
    expect(other.addAccount({ name: 'x', parentId: other.rootId })).toEqual(ids[2]); // same counter, same id
    expect(orgs.addAccount({ id: '123456789012', name: 'given', parentId: orgs.rootId })).toBe('123456789012');
    expect(() => orgs.addAccount({ id: '123456789012', name: 'again', parentId: orgs.rootId })).toThrow(/duplicate/);
    expect(() => orgs.addOu('ou-ab12-nothere0', 'x')).toThrow();
  });

  test('every paginated listing returns everything exactly once, a page at most pageSize long', async () => {
    const ou = orgs.addOu(orgs.rootId, 'workloads');
    const ous = [ou, ...[1, 2, 3, 4].map(n => orgs.addOu(orgs.rootId, `ou${n}`))];
    const members = [1, 2, 3, 4, 5, 6, 7].map(n => orgs.addAccount({ name: `member-${n}`, parentId: ou }));

    // MaxResults above pageSize is capped: 7 accounts in pages of 2 take 4 calls.
    const inOu = await all(paginateListAccountsForParent({ client, pageSize: 20 }, { ParentId: ou }), p => p.Accounts);
    expect(inOu.map(a => a.Id)).toEqual(members);
    const calls = orgs.calls.filter(c => c.operation === 'ListAccountsForParent');
    expect(calls.map(c => c.input.NextToken === undefined)).toEqual([true, false, false, false]);
    expect(calls[0].input).toMatchObject({ ParentId: ou, MaxResults: 20 });

    const ouList = await all(paginateListOrganizationalUnitsForParent({ client }, { ParentId: orgs.rootId }), p => p.OrganizationalUnits);
    expect(ouList.map(o => o.Id)).toEqual(ous);
    expect(ouList[0]).toEqual({ Id: ou, Name: 'workloads', Arn: `arn:aws:organizations::111111111111:ou/o-abcdefghij/${ou}` });

    const childOus = await all(paginateListChildren({ client }, { ParentId: orgs.rootId, ChildType: 'ORGANIZATIONAL_UNIT' }), p => p.Children);
    expect(childOus).toEqual(ous.map(Id => ({ Id, Type: 'ORGANIZATIONAL_UNIT' })));
    const childAccounts = await all(paginateListChildren({ client }, { ParentId: ou, ChildType: 'ACCOUNT' }), p => p.Children);
    expect(childAccounts).toEqual(members.map(Id => ({ Id, Type: 'ACCOUNT' })));

    const everyone = await all(paginateListAccounts({ client }, {}), p => p.Accounts);
    expect(everyone.map(a => a.Id)).toEqual(['111111111111', ...members]);

    // A smaller MaxResults is honoured.
    await all(paginateListAccounts({ client, pageSize: 1 }, {}), p => p.Accounts);
    expect(orgs.calls.filter(c => c.operation === 'ListAccounts')).toHaveLength(4 + 8);

    const parents = await all(paginateListParents({ client }, { ChildId: members[0] }), p => p.Parents);
    expect(parents).toEqual([{ Id: ou, Type: 'ORGANIZATIONAL_UNIT' }]);
  });

  test('nested OUs: a walk of the tree from the root finds every account once, under its own parent', async () => {
    const top = orgs.addOu(orgs.rootId, 'top');
    const mid = orgs.addOu(top, 'mid');
    const deep = orgs.addOu(mid, 'deep');
    const placed = new Map<string, string>([[orgs.addAccount({ name: 'a', parentId: top }), top]]);
    for (const parent of [mid, mid, mid, deep, deep, orgs.rootId]) placed.set(orgs.addAccount({ name: 'n', parentId: parent }), parent);
    placed.set('111111111111', orgs.rootId);

    const found = new Map<string, string>();
    const walk = async (parentId: string): Promise<void> => {
      for (const a of await all(paginateListAccountsForParent({ client }, { ParentId: parentId }), p => p.Accounts)) {
        expect(found.has(a.Id!)).toBe(false);
        found.set(a.Id!, parentId);
      }
      for (const o of await all(paginateListOrganizationalUnitsForParent({ client }, { ParentId: parentId }), p => p.OrganizationalUnits)) {
        await walk(o.Id!);
      }
    };
    await walk(orgs.rootId);
    expect(found).toEqual(placed);
    expect((await client.send(new ListParentsCommand({ ChildId: deep }))).Parents).toEqual([{ Id: mid, Type: 'ORGANIZATIONAL_UNIT' }]);
    expect((await client.send(new ListParentsCommand({ ChildId: top }))).Parents).toEqual([{ Id: orgs.rootId, Type: 'ROOT' }]);
  });

  test('State and the legacy Status; an older reading without State', async () => {
    const states = ['ACTIVE', 'SUSPENDED', 'PENDING_CLOSURE', 'CLOSED', 'PENDING_ACTIVATION'] as const;
    const ids = states.map(state => orgs.addAccount({ name: state, parentId: orgs.rootId, state, email: `${state}@example.com` }));
    const legacy = orgs.addAccount({ name: 'legacy', parentId: orgs.rootId, state: 'PENDING_CLOSURE', legacyStatusOnly: true });

    const described: Account[] = [];
    for (const id of [...ids, legacy]) described.push((await client.send(new DescribeAccountCommand({ AccountId: id }))).Account!);
    expect(described.map(a => [a.State, a.Status])).toEqual([
      ['ACTIVE', 'ACTIVE'], ['SUSPENDED', 'SUSPENDED'], ['PENDING_CLOSURE', 'PENDING_CLOSURE'], ['CLOSED', 'SUSPENDED'],
      ['PENDING_ACTIVATION', 'ACTIVE'], [undefined, 'PENDING_CLOSURE'],
    ]);
    expect('State' in described[5]).toBe(false);
    expect(described[3]).toMatchObject({
      Id: ids[3],
      Name: 'CLOSED',
      Email: 'CLOSED@example.com',
      JoinedMethod: 'CREATED',
      Arn: `arn:aws:organizations::111111111111:account/o-abcdefghij/${ids[3]}`,
    });
    // Epoch seconds on the wire, a Date in the SDK.
    expect(described[3].JoinedTimestamp).toBeInstanceOf(Date);
    expect(described[3].JoinedTimestamp!.getTime() % 1000).toBe(500);

    orgs.setState(ids[0], 'SUSPENDED');
    const listed = await all(paginateListAccounts({ client }, {}), p => p.Accounts);
    expect(listed.find(a => a.Id === ids[0])).toMatchObject({ State: 'SUSPENDED', Status: 'SUSPENDED' });
    expect(listed.find(a => a.Id === legacy)!.State).toBeUndefined();
  });

  test('moves, renames and departures show in the next answers', async () => {
    const from = orgs.addOu(orgs.rootId, 'from');
    const to = orgs.addOu(orgs.rootId, 'to');
    const [moving, leaving] = [orgs.addAccount({ name: 'moving', parentId: from }), orgs.addAccount({ name: 'leaving', parentId: from })];
    const ids = async (parentId: string) =>
      (await all(paginateListAccountsForParent({ client }, { ParentId: parentId }), p => p.Accounts)).map(a => a.Id);

    orgs.moveAccount(moving, to);
    orgs.renameAccount(moving, 'moved');
    orgs.removeAccount(leaving);
    expect(await ids(from)).toEqual([]);
    expect(await ids(to)).toEqual([moving]);
    expect((await client.send(new DescribeAccountCommand({ AccountId: moving }))).Account!.Name).toBe('moved');
    const gone = await errorOf(client.send(new DescribeAccountCommand({ AccountId: leaving })));
    expect(gone.name).toBe('AccountNotFoundException');
    expect((await all(paginateListAccounts({ client }, {}), p => p.Accounts)).map(a => a.Id)).not.toContain(leaving);
    expect((await errorOf(client.send(new ListParentsCommand({ ChildId: leaving })))).name).toBe('ChildNotFoundException');
    expect(() => orgs.setState(leaving, 'ACTIVE')).toThrow();
  });

  test('unknown parents and accounts, bad tokens: the named exceptions, status 400', async () => {
    const parent = await errorOf(all(paginateListAccountsForParent({ client }, { ParentId: 'ou-ab12-00000099' }), p => p.Accounts));
    expect([parent.name, parent.$metadata.httpStatusCode, parent.$fault]).toEqual(['ParentNotFoundException', 400, 'client']);
    expect(parent.message).toMatch(/ParentId/);
    const children = await errorOf(all(paginateListChildren({ client }, { ParentId: 'r-nope', ChildType: 'ACCOUNT' }), p => p.Children));
    expect(children.name).toBe('ParentNotFoundException');
    expect((await errorOf(client.send(new DescribeAccountCommand({ AccountId: '000000000000' })))).name).toBe('AccountNotFoundException');
    const token = await errorOf(client.send(new ListRootsCommand({ NextToken: 'garbage' })));
    expect(token.name).toBe('InvalidInputException');
  });

  test('injected errors surface as the named SDK exceptions, then the service answers again', async () => {
    orgs.failNext('ListAccounts', 'TooManyRequestsException', 2);
    orgs.failNext('DescribeOrganization', 'ServiceException');
    orgs.failNext('DescribeAccount', 'AccessDeniedException');

    for (let n = 0; n < 2; n++) {
      const throttled = await errorOf(all(paginateListAccounts({ client }, {}), p => p.Accounts));
      expect([throttled.name, throttled.$metadata.httpStatusCode]).toEqual(['TooManyRequestsException', 400]);
    }
    expect(await all(paginateListAccounts({ client }, {}), p => p.Accounts)).toHaveLength(1);
    const internal = await errorOf(client.send(new DescribeOrganizationCommand({})));
    expect([internal.name, internal.$metadata.httpStatusCode, internal.$fault]).toEqual(['ServiceException', 500, 'server']);
    expect((await errorOf(client.send(new DescribeAccountCommand({ AccountId: '111111111111' })))).name).toBe('AccessDeniedException');
    expect((await client.send(new DescribeOrganizationCommand({}))).Organization?.Id).toBe('o-abcdefghij');
    expect(orgs.calls.map(c => c.operation)).toEqual(['ListAccounts', 'ListAccounts', 'ListAccounts', 'DescribeOrganization', 'DescribeAccount', 'DescribeOrganization']);
  });

  test('the SDK finds it through AWS_ENDPOINT_URL_ORGANIZATIONS', async () => {
    const saved = process.env.AWS_ENDPOINT_URL_ORGANIZATIONS;
    process.env.AWS_ENDPOINT_URL_ORGANIZATIONS = orgs.url;
    const { endpoint, ...noEndpoint } = clientConfig(orgs.url);
    const fromEnv = new OrganizationsClient(noEndpoint);
    try {
      expect((await fromEnv.send(new DescribeOrganizationCommand({}))).Organization?.Id).toBe('o-abcdefghij');
      expect(orgs.calls).toHaveLength(1);
    } finally {
      fromEnv.destroy();
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_ORGANIZATIONS;
      else process.env.AWS_ENDPOINT_URL_ORGANIZATIONS = saved;
    }
  });
});

describe('LocalCloudFormation', () => {
  const stackSetName = 'cloudcraft-integration';
  let cfn: LocalCloudFormation;
  let client: CloudFormationClient;
  const list = (input: Partial<ListStackInstancesCommandInput> = {}): Promise<StackInstanceSummary[]> =>
    all(paginateListStackInstances({ client }, { StackSetName: stackSetName, ...input }), p => p.Summaries);

  async function startCfn(options: ConstructorParameters<typeof LocalCloudFormation>[0] = {}) {
    cfn = await new LocalCloudFormation({ pageSize: 3, ...options }).start();
    client = new CloudFormationClient(clientConfig(cfn.url));
  }
  afterEach(async () => {
    client.destroy();
    await cfn.stop();
  });

  test('ListStackResources, read by the handler\'s own reader through AWS_ENDPOINT_URL_CLOUDFORMATION: every page, every field', async () => {
    await startCfn();
    const stackId = 'arn:aws:cloudformation:us-east-1:111111111111:stack/app/0f1e2d3c-aaaa-4bbb-8ccc-123456789012';
    const resources = [
      { logicalId: 'Role', physicalId: 'cloudcraft', type: 'AWS::IAM::Role', status: 'CREATE_COMPLETE' },
      { logicalId: 'Old', physicalId: '2b8c1f7e-0d4a-4c3b-9e1f-5a6b7c8d9e0f', type: 'Custom::CloudcraftRegistration', status: 'DELETE_IN_PROGRESS' },
      { logicalId: 'New', physicalId: 'adopted:2b8c1f7e:WyJhIixudWxsLG51bGxd', type: 'Custom::CloudcraftRegistration', status: 'CREATE_COMPLETE' },
      { logicalId: 'Pending', type: 'Custom::CloudcraftRegistration', status: 'CREATE_IN_PROGRESS' },
    ];
    cfn.setStackResources(stackId, resources);
    const saved = { ...process.env };
    Object.assign(process.env, { AWS_ENDPOINT_URL_CLOUDFORMATION: cfn.url, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'AKIDLOCAL', AWS_SECRET_ACCESS_KEY: 'local' });
    try {
      expect(await sdkStackResourcesReader(stackId)).toEqual(resources.map(r => ({ ...r, physicalId: r.physicalId })));
      expect(cfn.calls.map(c => [c.action, c.params.StackName, c.params.NextToken === undefined])).toEqual([
        ['ListStackResources', stackId, true], ['ListStackResources', stackId, false],
      ]);
      // By name as well; an unknown stack is AWS's ValidationError.
      expect(await sdkStackResourcesReader('app')).toHaveLength(4);
      await expect(sdkStackResourcesReader('arn:aws:cloudformation:us-east-1:111111111111:stack/other/1')).rejects.toMatchObject({ name: 'ValidationError' });
    } finally {
      for (const key of ['AWS_ENDPOINT_URL_CLOUDFORMATION', 'AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) {
        if (saved[key] === undefined) delete process.env[key];
        else process.env[key] = saved[key];
      }
    }
  });

  test('pagination returns every instance exactly once, in pages of at most pageSize', async () => {
    await startCfn();
    const accounts = ['222222222201', '222222222202', '222222222203', '222222222204'];
    for (const account of accounts) {
      for (const region of ['us-east-1', 'eu-west-1']) cfn.setInstance({ account, region, ou: 'ou-ab12-00000001', status: 'CURRENT', detailedStatus: 'SUCCEEDED' });
    }
    const summaries = await list({ MaxResults: 50 });
    expect(summaries.map(s => `${s.Account}/${s.Region}`)).toEqual(cfn.instances().map(i => `${i.account}/${i.region}`));
    expect(new Set(summaries.map(s => `${s.Account}/${s.Region}`)).size).toBe(8);
    expect(cfn.calls.map(c => c.params.NextToken === undefined)).toEqual([true, false, false]);
    expect(cfn.calls[0]).toEqual({ action: 'ListStackInstances', params: { Action: 'ListStackInstances', Version: '2010-05-15', StackSetName: stackSetName, MaxResults: '50' } });
  });

  test('summaries carry every field in the SDK shape; a PENDING instance has no stack yet', async () => {
    await startCfn();
    cfn.setInstance({ account: '222222222201', region: 'us-east-1', ou: 'ou-ab12-00000001', status: 'INOPERABLE', detailedStatus: 'INOPERABLE', statusReason: 'Account 222222222201 is suspended' });
    cfn.setInstance({ account: '222222222202', region: 'us-east-1', ou: 'ou-ab12-00000001', status: 'OUTDATED', detailedStatus: 'PENDING' });
    const [inoperable, pending] = await list();
    expect(inoperable).toEqual({
      StackSetId: cfn.stackSetId,
      Region: 'us-east-1',
      Account: '222222222201',
      StackId: expect.stringMatching(/^arn:aws:cloudformation:us-east-1:222222222201:stack\/StackSet-cloudcraft-integration-/),
      Status: 'INOPERABLE',
      StatusReason: 'Account 222222222201 is suspended',
      StackInstanceStatus: { DetailedStatus: 'INOPERABLE' },
      OrganizationalUnitId: 'ou-ab12-00000001',
      DriftStatus: 'NOT_CHECKED',
      LastOperationId: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    expect(pending.StackId).toBeUndefined();
    expect(pending.StackInstanceStatus?.DetailedStatus).toBe('PENDING');
    expect(pending.LastOperationId).not.toBe(inoperable.LastOperationId);
  });

  test('filters, account and region narrow the answer; changes and removals show', async () => {
    await startCfn();
    const ou = 'ou-ab12-00000001';
    cfn.setInstance({ account: '222222222201', region: 'us-east-1', ou, status: 'CURRENT', detailedStatus: 'SUCCEEDED', driftStatus: 'IN_SYNC', lastOperationId: 'op-a' });
    cfn.setInstance({ account: '222222222202', region: 'us-east-1', ou, status: 'OUTDATED', detailedStatus: 'FAILED', driftStatus: 'DRIFTED', lastOperationId: 'op-b' });
    cfn.setInstance({ account: '222222222202', region: 'eu-west-1', ou, status: 'OUTDATED', detailedStatus: 'FAILED', lastOperationId: 'op-b' });
    cfn.setInstance({ account: '222222222203', region: 'us-east-1', ou, status: 'OUTDATED', detailedStatus: 'RUNNING', lastOperationId: 'op-b' });
    const keys = (s: StackInstanceSummary[]) => s.map(i => `${i.Account}/${i.Region}`);

    expect(keys(await list({ Filters: [{ Name: 'DETAILED_STATUS', Values: 'FAILED' }] }))).toEqual(['222222222202/us-east-1', '222222222202/eu-west-1']);
    expect(keys(await list({ Filters: [{ Name: 'DRIFT_STATUS', Values: 'DRIFTED' }] }))).toEqual(['222222222202/us-east-1']);
    expect(keys(await list({ Filters: [{ Name: 'LAST_OPERATION_ID', Values: 'op-b' }, { Name: 'DETAILED_STATUS', Values: 'RUNNING' }] })))
      .toEqual(['222222222203/us-east-1']);
    expect(keys(await list({ StackInstanceAccount: '222222222202', StackInstanceRegion: 'eu-west-1' }))).toEqual(['222222222202/eu-west-1']);
    expect(cfn.calls.at(-2)!.params).toMatchObject({ 'Filters.member.1.Name': 'LAST_OPERATION_ID', 'Filters.member.1.Values': 'op-b', 'Filters.member.2.Name': 'DETAILED_STATUS' });

    cfn.setInstance({ account: '222222222202', region: 'us-east-1', ou, status: 'CURRENT', detailedStatus: 'SUCCEEDED' });
    cfn.removeInstance('222222222202', 'eu-west-1');
    expect(keys(await list({ Filters: [{ Name: 'DETAILED_STATUS', Values: 'FAILED' }] }))).toEqual([]);
    expect(cfn.instances()).toHaveLength(3);
  });

  test('an unknown stack set is StackSetNotFoundException (404); injected errors are named', async () => {
    await startCfn();
    const missing = await errorOf(list({ StackSetName: 'nope' }));
    expect([missing.name, missing.$metadata.httpStatusCode, missing.message]).toEqual(['StackSetNotFoundException', 404, 'StackSet nope not found']);
    expect(await list({ StackSetName: cfn.stackSetId })).toEqual([]);

    cfn.failNext('ListStackInstances', 'Throttling');
    cfn.failNext('ListStackInstances', 'InternalFailure');
    const throttled = await errorOf(list());
    expect([throttled.name, throttled.$metadata.httpStatusCode, throttled.message]).toEqual(['Throttling', 400, 'Rate exceeded']);
    const internal = await errorOf(list());
    expect([internal.name, internal.$metadata.httpStatusCode, internal.$fault]).toEqual(['InternalFailure', 500, 'server']);
    expect(await list()).toEqual([]);
  });

  test('not a delegated administrator: CallAs SELF or absent works, DELEGATED_ADMIN is a ValidationError', async () => {
    await startCfn();
    cfn.setInstance({ account: '222222222201', region: 'us-east-1', ou: 'ou-ab12-00000001', status: 'CURRENT', detailedStatus: 'SUCCEEDED' });
    expect(await list()).toHaveLength(1);
    expect(await list({ CallAs: 'SELF' })).toHaveLength(1);
    const wrong = await errorOf(client.send(new ListStackInstancesCommand({ StackSetName: stackSetName, CallAs: 'DELEGATED_ADMIN' })));
    expect([wrong.name, wrong.$metadata.httpStatusCode]).toEqual(['ValidationError', 400]);
    expect(cfn.calls.map(c => c.params.CallAs)).toEqual([undefined, 'SELF', 'DELEGATED_ADMIN']);
  });

  test('a delegated administrator must say CallAs DELEGATED_ADMIN, else the stack set is not found', async () => {
    await startCfn({ delegatedAdmin: true });
    cfn.setInstance({ account: '222222222201', region: 'us-east-1', ou: 'ou-ab12-00000001', status: 'CURRENT', detailedStatus: 'SUCCEEDED' });
    expect((await errorOf(list())).name).toBe('StackSetNotFoundException');
    expect((await errorOf(list({ CallAs: 'SELF' }))).name).toBe('StackSetNotFoundException');
    expect((await list({ CallAs: 'DELEGATED_ADMIN' })).map(s => s.Account)).toEqual(['222222222201']);
  });
});

describe('dynalite', () => {
  test('a ledger table round trip: conditional put, conflict, read back', async () => {
    const dynamo = await startDynalite();
    const client = localDynamoClient(dynamo.url);
    try {
      await createLedgerTable(dynamo.url, 'ledger');
      const { Table } = await client.send(new DescribeTableCommand({ TableName: 'ledger' }));
      expect(Table).toMatchObject({ TableStatus: 'ACTIVE', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], BillingModeSummary: { BillingMode: 'PAY_PER_REQUEST' } });

      const put = (owner: string) => client.send(new PutItemCommand({
        TableName: 'ledger', Item: { pk: { S: 'account#222222222201' }, owner: { S: owner } }, ConditionExpression: 'attribute_not_exists(pk)',
      }));
      await put('first');
      const conflict = await errorOf(put('second'));
      expect(conflict.name).toBe('ConditionalCheckFailedException');
      const { Item } = await client.send(new GetItemCommand({ TableName: 'ledger', Key: { pk: { S: 'account#222222222201' } }, ConsistentRead: true }));
      expect(Item).toEqual({ pk: { S: 'account#222222222201' }, owner: { S: 'first' } });
      expect((await errorOf(createLedgerTable(dynamo.url, 'ledger'))).name).toBe('ResourceInUseException');
    } finally {
      client.destroy();
      await dynamo.stop();
    }
  });
});

describe('LocalLambda', () => {
  test('Invoke is recorded with its function, type and payload; Event answers 202', async () => {
    const lambda = await new LocalLambda().start();
    const client = new LambdaClient(clientConfig(lambda.url));
    const arn = 'arn:aws:lambda:us-east-1:111111111111:function:registrar';
    try {
      const event = await client.send(new InvokeCommand({
        FunctionName: arn, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify({ cdkCloudcraft: 'continue', depth: 1 })),
      }));
      expect(event.StatusCode).toBe(202);
      const sync = await client.send(new InvokeCommand({ FunctionName: 'registrar', Qualifier: 'live' }));
      expect(sync.StatusCode).toBe(200);
      expect(Buffer.from(sync.Payload!).toString()).toBe('{}');
      expect(lambda.invocations).toEqual([
        { functionName: arn, invocationType: 'Event', payload: { cdkCloudcraft: 'continue', depth: 1 } },
        { functionName: 'registrar', invocationType: 'RequestResponse', qualifier: 'live', payload: undefined },
      ]);
    } finally {
      client.destroy();
      await lambda.stop();
    }
  });
});
