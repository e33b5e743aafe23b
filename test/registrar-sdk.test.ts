/**
 * The registrar's SDK adapter (`sdkIo`, lib/organization/registrar/aws.ts) against the local stand-ins of the AWS
 * services it calls, through AWS_ENDPOINT_URL_*: the real @aws-sdk clients, pages of every listing, AWS's error
 * names, and DynamoDB's conditional writes (dynalite) that the lease and the key's pacing rest on. The registrar's
 * scenarios run on the in-memory `AwsIo` (test/support/memory-aws.ts), which this test holds to the same answers.
 */
import { LocalCloudFormation } from './support/local-cloudformation';
import { createLedgerTable, LocalDynamo, startDynalite } from './support/local-dynamodb';
import { LocalLambda } from './support/local-lambda';
import { LocalOrganizations } from './support/local-organizations';
import { MemoryAws } from './support/memory-aws';
import { sdkIo, AwsIo } from '../lib/organization/registrar/aws';

const MANAGEMENT = '111111111111';
let orgs: LocalOrganizations;
let cfn: LocalCloudFormation;
let lambda: LocalLambda;
let dynamo: LocalDynamo;
let io: AwsIo;
const saved = { ...process.env };

beforeAll(async () => {
  orgs = await new LocalOrganizations({ managementAccountId: MANAGEMENT, pageSize: 2 }).start();
  cfn = await new LocalCloudFormation({ pageSize: 2 }).start();
  lambda = await new LocalLambda().start();
  dynamo = await startDynalite();
  await createLedgerTable(dynamo.url, 'ledger');
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_ORGANIZATIONS: orgs.url,
    AWS_ENDPOINT_URL_CLOUDFORMATION: cfn.url,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.url,
    AWS_ENDPOINT_URL_LAMBDA: lambda.url,
    AWS_ACCESS_KEY_ID: 'AKIDLOCAL',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_REGION: 'us-east-1',
  });
  io = sdkIo();
});

afterAll(async () => {
  await Promise.all([orgs.stop(), cfn.stop(), lambda.stop(), dynamo.stop()]);
  process.env = saved;
});

test('Organizations: every page of a parent\'s accounts and OUs; an unknown parent is ParentNotFoundException, as in memory', async () => {
  const ou = orgs.addOu(orgs.rootId, 'workloads');
  const nested = orgs.addOu(ou, 'nested');
  const ids = ['a', 'b', 'c', 'd', 'e'].map(name => orgs.addAccount({ name, parentId: ou }));
  orgs.setState(ids[1], 'SUSPENDED');
  expect((await io.accountsOf(ou)).map(a => [a.id, a.name, a.state])).toEqual(ids.map((id, i) => [id, 'abcde'[i], i === 1 ? 'SUSPENDED' : 'ACTIVE']));
  expect(await io.ousOf(ou)).toEqual([nested]);
  expect(await io.describeAccount(ids[0])).toEqual({ id: ids[0], name: 'a', state: 'ACTIVE' });
  expect(await io.describeAccount('999999999999')).toBeUndefined();
  const sdkError = await io.accountsOf('ou-ab12-99999999').catch(e => e);
  const memory = new MemoryAws({ managementAccountId: MANAGEMENT });
  const memoryError = await memory.io().accountsOf('ou-ab12-99999999').catch(e => e);
  expect([sdkError.name, memoryError.name]).toEqual(['ParentNotFoundException', 'ParentNotFoundException']);
});

test('StackSets: every instance of the home region, with its detailed status and StackSets\' reason', async () => {
  cfn.setInstance({ account: '222222222201', region: 'us-east-1', ou: 'ou-ab12-00000001', status: 'CURRENT', detailedStatus: 'SUCCEEDED' });
  cfn.setInstance({ account: '222222222202', region: 'us-east-1', ou: 'ou-ab12-00000001', status: 'OUTDATED', detailedStatus: 'FAILED', statusReason: 'Role cloudcraft already exists' });
  cfn.setInstance({ account: '222222222203', region: 'us-east-1', ou: 'ou-ab12-00000001', status: 'CURRENT', detailedStatus: 'SUCCEEDED' });
  cfn.setInstance({ account: '222222222201', region: 'eu-west-1', ou: 'ou-ab12-00000001', status: 'CURRENT', detailedStatus: 'SUCCEEDED' });
  const instances = await io.stackInstances('cloudcraft-integration', 'SELF', 'us-east-1');
  expect(instances.map(i => [i.account, i.region, i.detailedStatus, i.statusReason])).toEqual([
    ['222222222201', 'us-east-1', 'SUCCEEDED', undefined],
    ['222222222202', 'us-east-1', 'FAILED', 'Role cloudcraft already exists'],
    ['222222222203', 'us-east-1', 'SUCCEEDED', undefined],
  ]);
});

test('the ledger: compare-and-swap on the version (the lease\'s and the pacing\'s writes), plain writes, scan and delete, as in memory', async () => {
  const memory = new MemoryAws({ managementAccountId: MANAGEMENT }).io();
  for (const ledger of [io, memory]) {
    expect(await ledger.ledgerGet('ledger', 'meta#lease')).toBeUndefined();
    expect(await ledger.ledgerPut('ledger', 'meta#lease', { owner: 'a' }, 0)).toBe(true);
    // A second writer that read the same (absent) item loses.
    expect(await ledger.ledgerPut('ledger', 'meta#lease', { owner: 'b' }, 0)).toBe(false);
    expect(await ledger.ledgerGet('ledger', 'meta#lease')).toEqual({ pk: 'meta#lease', data: { owner: 'a' }, version: 1 });
    expect(await ledger.ledgerPut('ledger', 'meta#lease', { owner: 'a', expiresAt: 5 }, 1)).toBe(true);
    expect(await ledger.ledgerPut('ledger', 'meta#lease', { owner: 'b' }, 1)).toBe(false);
    expect((await ledger.ledgerGet('ledger', 'meta#lease'))!.version).toBe(2);
    await ledger.ledgerPut('ledger', 'account#222222222201', { accountId: '222222222201', roleArn: 'r', state: 'registered' });
    // An item written without a version (by hand, or a plain write) can be taken over as version 0.
    expect(await ledger.ledgerPut('ledger', 'account#222222222201', { accountId: '222222222201', roleArn: 'r', state: 'failed' }, 0)).toBe(true);
    expect((await ledger.ledgerScan('ledger')).map(i => i.pk).sort()).toEqual(['account#222222222201', 'meta#lease']);
    await ledger.ledgerDelete('ledger', 'account#222222222201');
    await ledger.ledgerDelete('ledger', 'meta#lease');
    expect(await ledger.ledgerScan('ledger')).toEqual([]);
  }
});

test('a continuation is an asynchronous invocation (Event) of the function, with its payload', async () => {
  await io.invokeAsync('registrar', { cdkCloudcraft: 'continue', depth: 1, force: false });
  expect(lambda.invocations).toEqual([expect.objectContaining({ functionName: 'registrar', invocationType: 'Event', payload: { cdkCloudcraft: 'continue', depth: 1, force: false } })]);
});
