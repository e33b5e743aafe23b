/**
 * The world of the Organization registrar's scenario tests, on virtual time: its real code (createRegistrar) with its
 * AWS side in memory (memory-aws.ts: the Organization, the StackSet's instances, the ledger with compare-and-swap)
 * and the Cloudcraft emulator in process. Time moves only when everything waits on it, so a 15-minute run or a
 * one-day grace period costs milliseconds and no result depends on the machine's load. The SDK adapter is tested
 * against the local AWS stand-ins apart (aws-standins.test.ts, registrar-bundle.test.ts).
 *
 * `useWorld()` (in a test file) gives each test a fresh world in `world`.
 */
import { Account, CloudcraftEmulator, IN_PROCESS_URL } from './cloudcraft-emulator';
import { MemoryAws } from './memory-aws';
import { VirtualClock } from './virtual-clock';
import { createRegistrar, RegistrarDeps, RunSummary } from '../../lib/organization/registrar';
import { Deployment, RegistrarConfig } from '../../lib/organization/registrar/config';
import { RegistrarEnvironment, RegistrarResourceProperties } from '../../lib/organization/registrar/contract';
import { Ledger } from '../../lib/organization/registrar/ledger';
import { HttpRequest, HttpResponse, Transport } from '../../lib/runtime/http';

export const API_KEY = 'Q2xvdWRjcmFmdFRlc3RLZXlGb3JUaGVFbXVsYXRvcjA=';
export const EXTERNAL_ID = '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';
export const OTHER_EXTERNAL_ID = '99999999-2222-4333-8444-555555555555';
export const MANAGEMENT = '111111111111';
export const HOUR = 3_600_000;
export const SECRET = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:cloudcraft-AbCdEf';
export const STACK_ID = 'arn:aws:cloudformation:us-east-1:111111111111:stack/org/1';

export interface World {
  clock: VirtualClock;
  emulator: CloudcraftEmulator;
  aws: MemoryAws;
  orgs: MemoryAws['orgs'];
  cfn: MemoryAws['cfn'];
  ou: string;
  config: RegistrarConfig;
  logs: string[];
  answers: any[];
  /** The next answer PUTs that fail with a 503 (S3 behind the ResponseURL). */
  answerFailures: number;
}

export let world: World;

export function envOf(c: RegistrarConfig): RegistrarEnvironment {
  const { apiUrl, apiKey, ledgerTable, stackSetName, stackId, metricsNamespace } = c;
  return { apiUrl, apiKey, ledgerTable, stackSetName, stackId, metricsNamespace };
}

export function deploymentOf(c: RegistrarConfig): Deployment {
  const { apiUrl: _u, apiKey: _k, ledgerTable: _l, stackSetName: _s, stackId: _i, metricsNamespace: _m, targets, externalId, ...settings } = c;
  return { settings, targets, externalId };
}

/** The registrar resource's properties, as the construct writes them for this configuration. */
export function propertiesOf(c: RegistrarConfig): RegistrarResourceProperties {
  const d = deploymentOf(c);
  return { Settings: d.settings, Targets: d.targets, ExternalId: d.externalId ?? '', Environment: JSON.stringify(envOf(c)) };
}

let reconfigurations = 0;

/** Changes the settings as a deployment would record them. */
export async function reconfigure(over: Partial<RegistrarConfig>, w: World = world): Promise<void> {
  w.config = { ...w.config, ...over };
  await new Ledger(w.aws.io(), w.config.ledgerTable).recordDeployment(deploymentOf(w.config), `reconfigure-${++reconfigurations}`, undefined);
}

export async function start(): Promise<World> {
  const clock = new VirtualClock();
  const emulator = new CloudcraftEmulator({ users: [{ key: API_KEY, id: 'owner', externalId: EXTERNAL_ID }], clock });
  const aws = new MemoryAws({ managementAccountId: MANAGEMENT, clock });
  const ou = aws.orgs.addOu(aws.orgs.rootId, 'workloads');
  emulator.addRole(`arn:aws:iam::${MANAGEMENT}:role/cloudcraft`, { externalId: EXTERNAL_ID });
  const config: RegistrarConfig = {
    apiUrl: IN_PROCESS_URL,
    apiKey: { source: 'secretsmanager', id: SECRET },
    ledgerTable: 'ledger',
    stackSetName: 'cloudcraft-integration',
    stackId: STACK_ID,
    metricsNamespace: 'cdk-cloudcraft',
    externalId: EXTERNAL_ID,
    callAs: 'SELF',
    homeRegion: 'us-east-1',
    targets: [ou],
    role: { partition: 'aws', path: '/', name: 'cloudcraft' },
    thisAccount: { accountId: MANAGEMENT },
    naming: { pattern: '{name}', names: {} },
    access: {},
    graceMs: 24 * HOUR,
  };
  const w: World = { clock, emulator, aws, orgs: aws.orgs, cfn: aws.cfn, ou, config, logs: [], answers: [], answerFailures: 0 };
  // As deployed: the stack's Create has recorded the deployment (tests of a lost ledger clear it).
  await reconfigure({}, w);
  return w;
}

/** Empties the ledger table (emptied by hand, or restored without its items). */
export function clearLedger(): void {
  world.aws.ledger.clear();
}

/** The answer URL of CloudFormation, in process. */
function answersTransport(w: World): Transport {
  return async (request: HttpRequest): Promise<HttpResponse> => {
    if (w.answerFailures > 0) {
      w.answerFailures--;
      return { status: 503, headers: {}, text: 'Slow Down' };
    }
    w.answers.push({ url: request.url, contentType: request.headers['content-type'], body: JSON.parse(request.body ?? '{}'), at: w.clock.now() });
    return { status: 200, headers: {}, text: '' };
  };
}

/** The StackSet's "StackInstance Status Change" event, sent now. */
export const instanceEvent = () => ({ 'detail-type': 'CloudFormation StackSet StackInstance Status Change', 'source': 'aws.cloudformation', 'time': new Date(world.clock.now()).toISOString(), 'detail': {} });

/** The registrar as Lambda would run it, on the world's clock; `deps` replace its dependencies (faulty I/O, no environment). */
export function registrarOf(w: World, deps: Partial<RegistrarDeps> = {}) {
  return createRegistrar({
    clock: w.clock,
    transport: w.emulator.transport(answersTransport(w)),
    io: w.aws.io(),
    readSecret: async () => API_KEY,
    sink: line => w.logs.push(line),
    random: () => 0.5,
    environment: envOf(w.config),
    ...deps,
  });
}

export async function invoke(event: unknown = { 'detail-type': 'Scheduled Event', 'source': 'aws.events' }, remainingMs = 15 * 60_000, w: World = world,
  deps: Partial<RegistrarDeps> = {}): Promise<RunSummary> {
  return w.clock.run(launch(event, remainingMs, w, deps));
}

let invocations = 0;

/**
 * One invocation, started now but not driven: several launched together run at once (as Lambda runs them without
 * reserved concurrency), driven by `world.clock.run(Promise.all([...]))`.
 */
export function launch(event: unknown = { 'detail-type': 'Scheduled Event', 'source': 'aws.events' }, remainingMs = 15 * 60_000, w: World = world,
  deps: Partial<RegistrarDeps> = {}): Promise<RunSummary> {
  const registrar = registrarOf(w, deps);
  const deadline = w.clock.now() + remainingMs;
  return registrar(event, { getRemainingTimeInMillis: () => deadline - w.clock.now(), functionName: 'registrar', awsRequestId: `request-${++invocations}` });
}


/** A CloudFormation event of the registrar's resource (or another type), as CloudFormation sends it. */
export const cfnEvent = (type: 'Create' | 'Update' | 'Delete', resourceType = 'Custom::CloudcraftOrganizationRegistrar') => ({
  RequestType: type,
  ResponseURL: 'https://cloudformation-answers.test/answer/1',
  StackId: STACK_ID,
  RequestId: `req-${type}`,
  LogicalResourceId: 'Reconcile',
  ResourceType: resourceType,
  PhysicalResourceId: type === 'Create' ? undefined : 'cloudcraft-registrar:cloudcraft-integration',
  ResourceProperties: { ServiceToken: 'arn:aws:lambda:us-east-1:111111111111:function:registrar', ...propertiesOf(world.config) },
  ...(type === 'Update' ? { OldResourceProperties: { ...propertiesOf(world.config) } } : {}),
});

/** A member account with its role deployed (stack instance SUCCEEDED) unless told otherwise. */
export function member(name: string, options: { ou?: string; state?: any; instance?: string } = {}): string {
  const id = world.orgs.addAccount({ name, parentId: options.ou ?? world.ou, state: options.state ?? 'ACTIVE' });
  world.cfn.setInstance({ account: id, region: 'us-east-1', ou: options.ou ?? world.ou, status: options.instance === 'SUCCEEDED' || !options.instance ? 'CURRENT' : 'OUTDATED', detailedStatus: options.instance ?? 'SUCCEEDED' });
  world.emulator.addRole(roleOf(id), { externalId: EXTERNAL_ID });
  return id;
}

export const roleOf = (account: string) => `arn:aws:iam::${account}:role/cloudcraft`;
export const cloudcraftCalls = () => world.emulator.calls.filter(c => c.status !== 'hang').length;

/** Exactly one registration per desired account, none for others; `untouched` registrations as they were. */
export function expectConverged(desired: string[], untouched: Account[] = []): void {
  const all = [...world.emulator.accounts.values()];
  for (const account of desired) {
    expect(all.filter(a => a.roleArn === roleOf(account)).map(a => a.roleArn)).toEqual([roleOf(account)]);
  }
  const desiredRoles = new Set(desired.map(roleOf));
  const others = all.filter(a => !desiredRoles.has(a.roleArn));
  expect(others.map(a => a.id).sort()).toEqual(untouched.map(a => a.id).sort());
  for (const before of untouched) expect(world.emulator.accounts.get(before.id)).toEqual(before);
}

/** A fresh world for each test of the file. */
export function useWorld(): void {
  beforeEach(async () => {
    world = await start();
  });
}
