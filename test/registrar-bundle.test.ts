/**
 * The registrar as Lambda runs it: the inline code of the Organization template (the minified bundle, which the other
 * registrar tests do not run: they run the TypeScript source on virtual time), in a fresh Node.js 24 process with
 * the AWS SDK and the wall clock, its configuration resolved from the template as CloudFormation would, against the
 * local stand-ins (Organizations, CloudFormation, DynamoDB by dynalite: its conditional writes carry the lease, Lambda,
 * Secrets Manager) and the Cloudcraft emulator over HTTP: a run before the deployment registers nothing, the Create
 * registers the accounts, the stack's Delete removes them and answers.
 * (It found that the construct never told the registrar about this account's own role: never registered.)
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { resolveDeep } from './helpers';
import { CloudcraftEmulator } from './support/cloudcraft-emulator';
import { API_KEY, EXTERNAL_ID } from './support/harness';
import { runLambda } from './support/lambda-process';
import { LocalResponseUrl, LocalSecrets } from './support/local-aws';
import { LocalCloudFormation } from './support/local-cloudformation';
import { createLedgerTable, LocalDynamo, startDynalite } from './support/local-dynamodb';
import { LocalLambda } from './support/local-lambda';
import { LocalOrganizations } from './support/local-organizations';
import { fragmentsOf } from './support/virtual-harness';
import { ENVIRONMENT_VARIABLE, REGISTRAR_TYPE } from '../lib/organization/registrar/contract';
import { ORGANIZATION_TEMPLATE_FILE } from '../tools/templates';

const MANAGEMENT = '111111111111';
const SECRET = `arn:aws:secretsmanager:us-east-1:${MANAGEMENT}:secret:cloudcraft/api-key-AbCdEf`;

let emulator: CloudcraftEmulator;
let secrets: LocalSecrets;
let responses: LocalResponseUrl;
let orgs: LocalOrganizations;
let cfn: LocalCloudFormation;
let lambda: LocalLambda;
let dynamo: LocalDynamo;
let codeDir: string;
let environment: string;
let properties: Record<string, unknown>;
let ou: string;
const STACK_ID = `arn:aws:cloudformation:us-east-1:${MANAGEMENT}:stack/org/1`;
const output: string[] = [];

beforeAll(async () => {
  if (!fs.existsSync(ORGANIZATION_TEMPLATE_FILE)) throw new Error(`${ORGANIZATION_TEMPLATE_FILE} is missing: run "npx projen templates" (part of the build)`);
  const template = JSON.parse(fs.readFileSync(ORGANIZATION_TEMPLATE_FILE, 'utf8'));
  const [ledgerId] = Object.entries<any>(template.Resources).find(([, r]) => r.Type === 'AWS::DynamoDB::Table')!;
  const fn = Object.values<any>(template.Resources).find(r => r.Type === 'AWS::Lambda::Function');
  codeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloudcraft-registrar-'));
  fs.writeFileSync(path.join(codeDir, 'index.js'), fn.Properties.Code.ZipFile);

  emulator = await new CloudcraftEmulator({ users: [{ key: API_KEY, id: 'owner', externalId: EXTERNAL_ID, role: 'owner', plan: 'pro' }] }).start();
  secrets = await new LocalSecrets().start();
  secrets.secrets.set(SECRET, API_KEY);
  responses = await new LocalResponseUrl().start();
  orgs = await new LocalOrganizations({ managementAccountId: MANAGEMENT }).start();
  cfn = await new LocalCloudFormation().start();
  lambda = await new LocalLambda().start();
  dynamo = await startDynalite();
  await createLedgerTable(dynamo.url, 'ledger');
  ou = orgs.addOu(orgs.rootId, 'workloads');

  // The environment and the registrar resource's properties as CloudFormation resolves them, with the emulator's URL
  // for Cloudcraft's.
  const values = {
    'ApiKeySecretArn': SECRET,
    [ledgerId]: 'ledger',
    'AWS::Region': 'us-east-1',
    'AWS::Partition': 'aws',
    'AWS::AccountId': MANAGEMENT,
    'AWS::StackId': STACK_ID,
    'OrganizationalUnitIds': [ou],
  };
  const resolved = JSON.parse(resolveDeep(fn.Properties.Environment.Variables[ENVIRONMENT_VARIABLE], values));
  const registrar = Object.values<any>(template.Resources).find(r => r.Type === REGISTRAR_TYPE);
  // The external ID the IAM parameters resource reads with the key (the emulator's user's).
  const externalIdOf = [registrar.Properties.ExternalId['Fn::GetAtt']].flat().join('.');
  properties = resolveDeep(registrar.Properties, { ...values, [externalIdOf]: EXTERNAL_ID });
  // The management account's own role, which the template creates (StackSets never deploy there).
  emulator.addRole(`arn:aws:iam::${MANAGEMENT}:role/cloudcraft`, { externalId: EXTERNAL_ID });
  expect(resolved.apiUrl).toBe('https://api.cloudcraft.co');
  environment = JSON.stringify({ ...resolved, apiUrl: emulator.url });
});

afterAll(async () => {
  await Promise.all([emulator, secrets, responses, orgs, cfn, lambda].map(s => s.stop()));
  await dynamo.stop();
  fs.rmSync(codeDir, { recursive: true, force: true });
});

function member(name: string): string {
  const id = orgs.addAccount({ name, parentId: ou });
  cfn.setInstance({ account: id, region: 'us-east-1', ou, status: 'CURRENT', detailedStatus: 'SUCCEEDED' });
  emulator.addRole(`arn:aws:iam::${id}:role/cloudcraft`, { externalId: EXTERNAL_ID });
  return id;
}

/** Runs the bundle in a fresh process, as Lambda would; the stand-ins answer from this process. */
async function invoke(event: unknown): Promise<void> {
  const { code, output: out } = await runLambda(codeDir, event, {
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url,
    AWS_ENDPOINT_URL_ORGANIZATIONS: orgs.url,
    AWS_ENDPOINT_URL_CLOUDFORMATION: cfn.url,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.url,
    AWS_ENDPOINT_URL_LAMBDA: lambda.url,
    [ENVIRONMENT_VARIABLE]: environment,
  }, 120_000);
  output.push(out);
  expect({ code, out: code === 0 ? '' : out }).toEqual({ code: 0, out: '' });
}

const cfnEvent = (RequestType: 'Create' | 'Delete') => ({
  RequestType,
  ResponseURL: `${responses.url}/answer/${RequestType}`,
  StackId: STACK_ID,
  RequestId: `req-${RequestType}`,
  LogicalResourceId: 'Reconcile',
  ResourceType: 'Custom::CloudcraftOrganizationRegistrar',
  ...(RequestType === 'Delete' ? { PhysicalResourceId: 'cloudcraft-registrar:cloudcraft-integration' } : {}),
  ResourceProperties: properties,
});

test('before the deployment, a run registers nothing; the Create registers the accounts; the Delete removes them and answers', async () => {
  const accounts = [member('prod'), member('dev')];
  await invoke({ 'detail-type': 'Scheduled Event', 'source': 'aws.events', 'detail': {} });
  expect(emulator.accounts.size).toBe(0);
  expect(output.join('')).toMatch(/"level":"warn","msg":"no deployment recorded"/);
  await invoke(cfnEvent('Create'));
  expect(responses.answersTo('/answer/Create')).toEqual([expect.objectContaining({ Status: 'SUCCESS', PhysicalResourceId: 'cloudcraft-registrar:cloudcraft-integration' })]);
  const registered = [...emulator.accounts.values()];
  expect(registered.map(a => [a.name, a.roleArn]).sort()).toEqual([
    ['dev', `arn:aws:iam::${accounts[1]}:role/cloudcraft`],
    ['management', `arn:aws:iam::${MANAGEMENT}:role/cloudcraft`],
    ['prod', `arn:aws:iam::${accounts[0]}:role/cloudcraft`],
  ]);
  const summary = output.join('').split('\n').map(line => { try { return JSON.parse(line); } catch { return {}; } }).filter(l => l.msg === 'run summary').at(-1);
  expect(summary).toMatchObject({ desired: 3, registered: 3, complete: true });

  await invoke(cfnEvent('Delete'));
  expect(responses.answersTo('/answer/Delete')).toEqual([expect.objectContaining({ Status: 'SUCCESS', Reason: 'Removed 3 registrations from Cloudcraft.' })]);
  expect(emulator.accounts.size).toBe(0);
});

test('the API key (or any 8-character fragment of it) is in none of the function\'s output', () => {
  const everything = output.join('');
  expect(everything.length).toBeGreaterThan(500);
  for (const fragment of fragmentsOf(API_KEY)) expect(everything).not.toContain(fragment);
});
