/**
 * Template-driven lifecycle, the one end-to-end check on real time: synthesize the example stack, take the handler's
 * inline code out of the template, run it as Lambda would (a fresh Node 24 process loads index.js and calls
 * index.handler with the shipped dependencies: fetch, the AWS SDK, the system clock), and drive
 * Create -> Update (rename, teams) -> Update (teams no longer managed) -> Update (teams []) -> Delete with events built from the template's own
 * resource properties, against the Cloudcraft emulator over HTTP and local Secrets Manager.
 */
import { spawnSync } from 'child_process';
import { randomUUID } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AWS_REFS, resolveCfn, TARGET_ACCOUNT } from './helpers';
import { CLOUDCRAFT_AWS_ACCOUNT, CloudcraftEmulator } from './support/cloudcraft-emulator';
import { API_KEY, EXTERNAL_ID } from './support/harness';
import { LAMBDA_NODE, runLambda } from './support/lambda-process';
import { LocalResponseUrl, LocalSecrets } from './support/local-aws';
import { LocalCloudFormation } from './support/local-cloudformation';
import { fragmentsOf } from './support/virtual-harness';
import { CloudcraftExampleStack } from '../examples/cloudcraft-example-stack';
import { API_URLS_VARIABLE, DEFAULT_API_URL } from '../lib/registration/handler/contract';

const STACK_ID = `arn:aws:cloudformation:us-east-1:${TARGET_ACCOUNT}:stack/CloudcraftExampleStack/abc`;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { VERSION } = require('../tools/lambda-node.js') as { VERSION: string };
const ON_LINUX_X64 = process.platform === 'linux' && process.arch === 'x64';
/** Node 24 from `npx projen lambda-node` (part of the test task) where it exists for the platform. */
const NODE = LAMBDA_NODE;

let emulator: CloudcraftEmulator;
let secrets: LocalSecrets;
let responses: LocalResponseUrl;
let cfn: LocalCloudFormation;
let codeDir: string;
let template: any;
/** The template's list of the APIs its handler may call, Cloudcraft's pointed at the emulator. */
let apiUrls: string;
const output: string[] = [];

function resourceOfType(type: string, where: (resource: any) => boolean = () => true): [string, any] {
  const found = Object.entries(template.Resources).filter(([, r]: [string, any]) => r.Type === type && where(r));
  expect(found).toHaveLength(1);
  return found[0] as [string, any];
}

/** The registration handler (the example stack also has the diagrams' function). */
function handlerFunction(): [string, any] {
  return resourceOfType('AWS::Lambda::Function', r => API_URLS_VARIABLE in (r.Properties.Environment?.Variables ?? {}));
}

beforeAll(async () => {
  const app = new App();
  const stack = new CloudcraftExampleStack(app, 'CloudcraftExampleStack');
  template = Template.fromStack(stack).toJSON();
  const [, fn] = handlerFunction();
  codeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloudcraft-lambda-'));
  fs.writeFileSync(path.join(codeDir, 'index.js'), fn.Properties.Code.ZipFile);

  emulator = await new CloudcraftEmulator({ users: [{ key: API_KEY, id: 'owner', externalId: EXTERNAL_ID, role: 'owner', plan: 'pro' }] }).start();
  const listed: string[] = JSON.parse(fn.Properties.Environment.Variables[API_URLS_VARIABLE]);
  expect(listed).toEqual([DEFAULT_API_URL]);
  apiUrls = JSON.stringify(listed.map(url => (url === DEFAULT_API_URL ? emulator.url : url)));
  secrets = await new LocalSecrets().start();
  responses = await new LocalResponseUrl().start();
  cfn = await new LocalCloudFormation().start();
});

afterAll(async () => {
  await Promise.all([emulator.stop(), secrets.stop(), responses.stop(), cfn.stop()]);
  fs.rmSync(codeDir, { recursive: true, force: true });
});

/** Builds an event from a template resource's properties, resolved as CloudFormation would. */
function eventFor(logicalId: string, requestType: 'Create' | 'Update' | 'Delete', refs: Record<string, string>) {
  const resource = template.Resources[logicalId];
  const properties = resolveCfn(resource.Properties, refs);
  properties.ApiUrl = emulator.url; // the template's https://api.cloudcraft.co, pointed at the emulator (as its handler's list)
  const requestId = randomUUID();
  return {
    RequestType: requestType,
    ServiceToken: properties.ServiceToken,
    ResponseURL: `${responses.url}/answer/${requestId}`,
    StackId: STACK_ID,
    RequestId: requestId,
    LogicalResourceId: logicalId,
    ResourceType: resource.Type,
    ResourceProperties: properties,
  };
}

/** Runs the handler in a fresh process; the emulator answers from this process, so the call must not block. */
async function invoke(event: any): Promise<any> {
  const { code, output: out } = await runLambda(codeDir, event, {
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url,
    AWS_ENDPOINT_URL_SSM: secrets.url,
    AWS_ENDPOINT_URL_CLOUDFORMATION: cfn.url,
    // The template's list of the APIs the handler may call, with the emulator's URL for Cloudcraft's.
    [API_URLS_VARIABLE]: apiUrls,
  }, 300_000);
  output.push(out);
  expect(code).toBe(0);
  const answers = responses.answersTo(new URL(event.ResponseURL).pathname);
  expect(answers).toHaveLength(1);
  return answers[0];
}

test('Create, Update (rename, teams; teams left out, then []), Delete with the inline code from the template', async () => {
  const [functionId] = handlerFunction();
  const refs: Record<string, string> = {
    ...AWS_REFS,
    AccountName: 'production',
    [`${functionId}.Arn`]: `arn:aws:lambda:us-east-1:${TARGET_ACCOUNT}:function:CloudcraftHandler`, // the ServiceToken
  };
  const [paramsId] = resourceOfType('Custom::CloudcraftIamParameters');
  const [registrationId] = resourceOfType('Custom::CloudcraftRegistration');
  const [roleId, role] = Object.entries(template.Resources).find(([, r]: [string, any]) => r.Properties?.RoleName === 'cloudcraft') as [string, any];
  const roleArn = `arn:aws:iam::${TARGET_ACCOUNT}:role/cloudcraft`;

  // The secret the example names, as the handler will ask for it.
  const params = eventFor(paramsId, 'Create', refs);
  secrets.secrets.set(params.ResourceProperties.ApiKeyId, API_KEY);
  expect(params.ResourceProperties.ApiKeyId).toBe(`arn:aws:secretsmanager:us-east-1:${TARGET_ACCOUNT}:secret:cloudcraft/api-key`);

  // 1. iamParameters: the external ID and Cloudcraft's account, fed into the role's trust policy.
  const iam = await invoke(params);
  expect(iam).toMatchObject({ Status: 'SUCCESS', Data: { ExternalId: EXTERNAL_ID, AccountId: CLOUDCRAFT_AWS_ACCOUNT } });
  Object.assign(refs, { [`${paramsId}.ExternalId`]: iam.Data.ExternalId, [`${paramsId}.AccountId`]: iam.Data.AccountId, [`${roleId}.Arn`]: roleArn });
  const resolvedTrust = resolveCfn(role.Properties.AssumeRolePolicyDocument, refs);
  expect(resolvedTrust.Statement[0]).toEqual({
    Action: 'sts:AssumeRole',
    Effect: 'Allow',
    Principal: { AWS: `arn:aws:iam::${CLOUDCRAFT_AWS_ACCOUNT}:root` },
    Condition: { StringEquals: { 'sts:ExternalId': EXTERNAL_ID } },
  });
  // CloudFormation creates the role with that trust; the emulated AWS knows it now.
  emulator.addRole(roleArn, { externalId: resolvedTrust.Statement[0].Condition.StringEquals['sts:ExternalId'] });

  // 2. Create the registration.
  const createEvent = eventFor(registrationId, 'Create', refs);
  const created = await invoke(createEvent);
  expect(created.Status).toBe('SUCCESS');
  const id = created.PhysicalResourceId;
  expect(emulator.accounts.get(id)).toMatchObject({ name: 'production', roleArn, readAccess: null });
  // The template gives the handler the external ID the role trusts, and leaves team access out of the POST.
  expect(createEvent.ResourceProperties.ExternalId).toBe(EXTERNAL_ID);
  expect(emulator.callsTo('POST')[0].body).toEqual({ name: 'production', roleArn });

  // 3. Update: rename and give teams, as a changed template would.
  const before = createEvent.ResourceProperties;
  const after = { ...before, AccountName: 'production-eu', ReadAccess: ['team-a'], WriteAccess: ['team-b'] };
  const updated = await invoke({ ...eventFor(registrationId, 'Update', refs), ResourceProperties: after, OldResourceProperties: before, PhysicalResourceId: id });
  expect(updated).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: id });
  expect(emulator.accounts.get(id)).toMatchObject({ name: 'production-eu', readAccess: ['team/team-a'], writeAccess: ['team/team-b'] });

  // 4. An Update that removes team access from the template stops managing it (the teams stay, the name goes back);
  // one that sets [] unshares.
  const left = await invoke({ ...eventFor(registrationId, 'Update', refs), ResourceProperties: before, OldResourceProperties: after, PhysicalResourceId: id });
  expect(left).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: id });
  expect(emulator.accounts.get(id)).toMatchObject({ name: 'production', readAccess: ['team/team-a'], writeAccess: ['team/team-b'] });
  const none = { ...before, ReadAccess: [], WriteAccess: [] };
  const unshared = await invoke({ ...eventFor(registrationId, 'Update', refs), ResourceProperties: none, OldResourceProperties: before, PhysicalResourceId: id });
  expect(unshared).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: id });
  expect(emulator.accounts.get(id)).toMatchObject({ name: 'production', readAccess: [], writeAccess: [] });

  // 5. Delete (cdk destroy): the handler first lists its stack's resources (none other holds the registration).
  cfn.setStackResources(STACK_ID, Object.entries(template.Resources).map(([logicalId, r]: [string, any]) => ({
    logicalId,
    type: r.Type,
    status: logicalId === registrationId ? 'DELETE_IN_PROGRESS' : 'CREATE_COMPLETE',
    physicalId: logicalId === registrationId ? id : r.Type === 'Custom::CloudcraftIamParameters' ? iam.PhysicalResourceId : `${logicalId}-physical`,
  })));
  const deleted = await invoke({ ...eventFor(registrationId, 'Delete', refs), ResourceProperties: before, PhysicalResourceId: id });
  expect(deleted.Status).toBe('SUCCESS');
  expect(emulator.accounts.size).toBe(0);
  // Every page (5 resources a page here), of its own stack only.
  const pages = Math.ceil(Object.keys(template.Resources).length / cfn.pageSize);
  expect(cfn.calls.map(c => [c.action, c.params.StackName])).toEqual(Array(pages).fill(['ListStackResources', STACK_ID]));
  expect(output.join('')).not.toMatch(/cannot list the stack/);
  const paramsDeleted = await invoke({ ...eventFor(paramsId, 'Delete', refs), PhysicalResourceId: iam.PhysicalResourceId });
  expect(paramsDeleted.Status).toBe('SUCCESS');

  // Calls per step in the happy path: iamParameters 1, Create 3 (list, POST, list for a twin delivery), Update 1 with
  // both team lists managed, 2 with a list not managed (the list gives its teams back to the PUT), Delete 1.
  expect(emulator.calls.map(c => `${c.method} ${c.path.replace(/[0-9a-f-]{36}/, '{id}')}`)).toEqual([
    'GET /aws/account/iamParameters', 'GET /aws/account', 'POST /aws/account', 'GET /aws/account', 'PUT /aws/account/{id}',
    'GET /aws/account', 'PUT /aws/account/{id}', 'PUT /aws/account/{id}', 'DELETE /aws/account/{id}',
  ]);
});

test('the API key (or any 8-character fragment of it) is nowhere in the template, the answers or the function\'s output', () => {
  const everything = JSON.stringify({ template, answers: responses.puts, output });
  expect(output.join('').length).toBeGreaterThan(500); // the handler did log
  for (const fragment of fragmentsOf(API_KEY)) expect(everything).not.toContain(fragment);
});

test('the handler ran on the Node.js the test names (Lambda runs nodejs24.x)', () => {
  const version = spawnSync(NODE, ['--version'], { encoding: 'utf8' }).stdout.trim();
  if (ON_LINUX_X64) expect(version).toBe(`v${VERSION}`);
  else expect(version).toBe(process.version);
  const [, fn] = handlerFunction();
  expect(fn.Properties.Runtime).toBe('nodejs24.x');
  process.stdout.write(`lifecycle handler ran on Node ${version}\n`);
});
