/**
 * The Organization registrar, benchmarked on virtual time: its real code (createRegistrar) against the Cloudcraft
 * emulator in process, with its AWS side in memory (test/support/memory-aws.ts: the Organization, the StackSet, the
 * ledger with compare-and-swap). Runs follow one another as Lambda would run them (a run that stops at its 15-minute
 * deadline is continued), until every account is registered. The deployment is modelled as CloudFormation runs it:
 * the IAM parameters resource (one call with the key, in its own invocation), then the registrar resource's Create.
 *
 * Figures: simulated time to register all, accepted calls as a fraction of what the limit leaves, 429s as a fraction
 * of calls, duplicates, calls per account, a no-change run's calls, the time from a new account's stack instance to
 * its registration; and the scenarios of issue 18: one empty list in the middle, a deployment's answer while a run is
 * in progress, another user of the key.
 */
import { createRegistrar, RunSummary } from '../lib/organization/registrar';
import { RegistrarConfig } from '../lib/organization/registrar/config';
import { RegistrarEnvironment } from '../lib/organization/registrar/contract';
import { CloudcraftEmulator, IN_PROCESS_URL } from '../test/support/cloudcraft-emulator';
import { MemoryAws } from '../test/support/memory-aws';
import { VirtualClock } from '../test/support/virtual-clock';

/** The benches' key, its user's external ID, the management account and the registrar's stack. */
export const KEY = 'Q2xvdWRjcmFmdFRlc3RLZXlGb3JUaGVFbXVsYXRvcjA=';
export const EXTERNAL_ID = '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';
export const MANAGEMENT = '100000000000';
export const STACK_ID = `arn:aws:cloudformation:us-east-1:${MANAGEMENT}:stack/org/1`;
/** What another user of the key calls: never the registrar's. */
const FOREIGN_PATH = '/user/me';

export interface RegistrarBenchCase {
  readonly accounts: number;
  readonly windowMs: number;
  readonly countRejected: boolean;
  /** Another user of the same key: requests per window, evenly spaced, and a burst that fills the window at the start. */
  readonly foreign?: { readonly perWindow: number };
}

export interface RegistrarBenchResult extends RegistrarBenchCase {
  readonly reading: string;
  readonly registered: number;
  readonly duplicates: number;
  readonly runs: number;
  readonly simulatedMinutesToRegisterAll: number;
  /** Accepted calls of the registrar as a fraction of what the limit leaves it (all of it, or less another user's share). */
  readonly throughputOfLimit: number;
  readonly rejected429OfCalls: number;
  readonly callsPerAccount: number;
  readonly noChangeRunCalls: number;
  readonly newAccountToRegistrationSeconds: number;
  readonly realSeconds: number;
}

interface World {
  clock: VirtualClock;
  emulator: CloudcraftEmulator;
  aws: MemoryAws;
  answers: Array<{ body: any; at: number }>;
  props: Record<string, unknown>;
  ou: string;
  invoke(event: unknown): Promise<RunSummary>;
  launch(event: unknown): Promise<RunSummary>;
  addAccount(i: number): string;
}

/**
 * An Organization in memory with `accounts` member accounts in one OU, each with its stack instance CURRENT and its
 * Cloudcraft role known to the emulator; `addAccount` adds one more (`also` for what else a member needs).
 */
export function benchOrganization(emulator: CloudcraftEmulator, accounts: number, also: (id: string) => void = () => undefined) {
  const aws = new MemoryAws({ managementAccountId: MANAGEMENT });
  const ou = aws.orgs.addOu(aws.orgs.rootId, 'workloads');
  const addAccount = (i: number) => {
    const id = aws.orgs.addAccount({ name: `account-${i}`, parentId: ou });
    aws.cfn.setInstance({ account: id, region: 'us-east-1', status: 'CURRENT', detailedStatus: 'SUCCEEDED' });
    emulator.addRole(`arn:aws:iam::${id}:role/cloudcraft`, { externalId: EXTERNAL_ID });
    also(id);
    return id;
  };
  for (let i = 0; i < accounts; i++) addAccount(i);
  return { aws, ou, addAccount };
}

/** The registrar's environment and settings in the benches (the emulator in process, a day's grace). */
export function benchRegistrarConfig(ledgerTable: string): {
  environment: RegistrarEnvironment; settings: Omit<RegistrarConfig, keyof RegistrarEnvironment | 'targets' | 'externalId'>;
} {
  return {
    environment: {
      apiUrl: IN_PROCESS_URL,
      apiKey: { source: 'secretsmanager', id: `arn:aws:secretsmanager:us-east-1:${MANAGEMENT}:secret:k` },
      ledgerTable,
      stackSetName: 'cloudcraft-integration',
      stackId: STACK_ID,
      metricsNamespace: 'cdk-cloudcraft',
    },
    settings: {
      callAs: 'SELF',
      homeRegion: 'us-east-1',
      role: { partition: 'aws', path: '/', name: 'cloudcraft' },
      naming: { pattern: '{name}', names: {} },
      access: {},
      graceMs: 86_400_000,
    },
  };
}

function world(c: RegistrarBenchCase): World {
  const clock = new VirtualClock();
  const emulator = new CloudcraftEmulator({
    users: [{ key: KEY, id: 'owner', externalId: EXTERNAL_ID }],
    clock,
    rateLimit: { requests: 20, windowMs: c.windowMs, retryAfter: 'seconds', countRejected: c.countRejected },
  });
  const { aws, ou, addAccount } = benchOrganization(emulator, c.accounts);
  const { environment, settings } = benchRegistrarConfig('ledger');
  const answers: Array<{ body: any; at: number }> = [];
  let seed = 42;
  let requests = 0;
  const registrar = createRegistrar({
    clock,
    transport: emulator.transport(async request => {
      answers.push({ body: JSON.parse(request.body ?? '{}'), at: clock.now() });
      return { status: 200, headers: {}, text: '' };
    }),
    io: aws.io(),
    readSecret: async () => KEY,
    sink: () => undefined,
    environment,
    random: () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31),
  });
  const launch = (event: unknown): Promise<RunSummary> => {
    const deadline = clock.now() + 15 * 60_000;
    return registrar(event, { getRemainingTimeInMillis: () => deadline - clock.now(), functionName: 'registrar', awsRequestId: `r${++requests}` });
  };
  return {
    clock,
    emulator,
    aws,
    answers,
    addAccount,
    launch,
    ou,
    invoke: event => clock.run(launch(event)),
    props: { Settings: settings, Targets: [ou], ExternalId: EXTERNAL_ID, Environment: JSON.stringify(environment) },
  };
}

const cfn = (w: World, ResourceType: string, RequestType: 'Create' | 'Update' = 'Create') => ({
  RequestType,
  ResourceType,
  ResponseURL: 'https://cloudformation-answers.test/answer',
  StackId: STACK_ID,
  RequestId: `${ResourceType}-${RequestType}`,
  LogicalResourceId: 'Registrar',
  ...(RequestType === 'Update' ? { PhysicalResourceId: 'cloudcraft-registrar:cloudcraft-integration' } : {}),
  ResourceProperties: w.props,
});

/** The deployment as CloudFormation runs it: the IAM parameters resource, then the registrar's Create (its first run). */
async function deploy(w: World): Promise<RunSummary> {
  await w.invoke(cfn(w, 'Custom::CloudcraftIamParameters'));
  return w.invoke(cfn(w, 'Custom::CloudcraftOrganizationRegistrar'));
}

/** Continues as Lambda would: each invocation the registrar asked for, until none is asked for. */
async function drain(w: World, first: RunSummary, limit = 500): Promise<{ summary: RunSummary; runs: number }> {
  let summary = first;
  let runs = 1;
  while (w.aws.invocations.length > 0 && runs < limit) {
    const next = w.aws.invocations.shift()!;
    summary = await w.invoke(next.payload);
    runs++;
  }
  return { summary, runs };
}

/** Another user of the key: a burst that fills the window now, then `perWindow` requests per window, until stopped. */
function foreignUser(w: World, c: RegistrarBenchCase): () => void {
  if (!c.foreign) return () => undefined;
  let stopped = false;
  const send = () => w.emulator.dispatch('GET', FOREIGN_PATH, `Bearer ${KEY}`, '');
  for (let i = 0; i < 20; i++) void send();
  const every = c.windowMs / c.foreign.perWindow;
  void (async () => {
    while (!stopped) {
      await w.clock.sleep(every);
      if (!stopped) await send();
    }
  })();
  return () => {
    stopped = true;
  };
}

export async function benchRegistrar(c: RegistrarBenchCase): Promise<RegistrarBenchResult> {
  const started = Date.now();
  const w = world(c);
  const stopForeign = foreignUser(w, c);
  const t0 = w.clock.now();
  const { summary, runs } = await drain(w, await deploy(w));
  stopForeign();
  const took = w.clock.now() - t0;
  if (summary.skipped || !summary.complete) throw new Error(`bench: the registrar did not register the accounts (${JSON.stringify(summary)})`);
  const ours = w.emulator.calls.filter(x => x.path !== FOREIGN_PATH);
  const accepted = ours.filter(x => x.status !== 429 && x.status !== 'hang');
  const first = Math.min(...accepted.map(x => x.at));
  const last = Math.max(...accepted.map(x => x.at));
  const share = (20 - (c.foreign?.perWindow ?? 0)) / 20;
  const ceiling = 20 * share * ((last - first) / c.windowMs + 1);
  const byRole = new Map<string, number>();
  for (const a of w.emulator.accounts.values()) byRole.set(a.roleArn, (byRole.get(a.roleArn) ?? 0) + 1);
  const totalCalls = ours.length;
  const rejected = ours.filter(x => x.status === 429).length;

  const beforeNoChange = w.emulator.calls.length;
  await w.clock.advance(3_600_000);
  await w.invoke({ 'detail-type': 'Scheduled Event' });
  const noChangeRunCalls = w.emulator.calls.length - beforeNoChange;

  // A new account: its stack instance succeeds, the StackSet's event triggers a run.
  await w.clock.advance(3_600_000);
  const joined = w.addAccount(c.accounts);
  const instanceAt = w.clock.now();
  await w.invoke({ 'detail-type': 'CloudFormation StackSet StackInstance Status Change', 'time': new Date(instanceAt).toISOString() });
  const registration = [...w.emulator.accounts.values()].find(a => a.roleArn === `arn:aws:iam::${joined}:role/cloudcraft`);
  const newAccountToRegistrationSeconds = registration ? (Date.parse(registration.createdAt) - instanceAt) / 1000 : NaN;

  return {
    ...c,
    reading: `20 per ${c.windowMs / 1000} s, 429s ${c.countRejected ? '' : 'not '}counted${c.foreign ? `, another user of the key taking ${c.foreign.perWindow} per window and a burst at the start` : ''}`,
    registered: byRole.size,
    duplicates: [...byRole.values()].reduce((sum, n) => sum + n - 1, 0),
    runs,
    simulatedMinutesToRegisterAll: Number((took / 60_000).toFixed(1)),
    throughputOfLimit: Number((accepted.length / ceiling).toFixed(3)),
    rejected429OfCalls: Number((rejected / Math.max(1, totalCalls)).toFixed(4)),
    callsPerAccount: Number((totalCalls / (c.accounts + 1)).toFixed(3)),
    noChangeRunCalls,
    newAccountToRegistrationSeconds,
    realSeconds: Number(((Date.now() - started) / 1000).toFixed(1)),
  };
}

export interface EmptyListResult {
  readonly accounts: number;
  readonly postsOfTheBadRun: number;
  readonly putsOfTheBadRun: number;
  readonly duplicates: number;
  readonly orphans: number;
}

/** One empty answer of the list in the middle of an Organization's life, then three hourly runs. */
export async function benchEmptyList(accounts: number): Promise<EmptyListResult> {
  const w = world({ accounts, windowMs: 10_000, countRejected: true });
  await drain(w, await deploy(w));
  const before = { posts: w.emulator.callsTo('POST').length, puts: w.emulator.callsTo('PUT').length };
  await w.clock.advance(3_600_000);
  w.emulator.inject({ method: 'GET', path: '/aws/account', status: 200, body: { accounts: [] } });
  await w.invoke({ 'detail-type': 'Scheduled Event' });
  const bad = { posts: w.emulator.callsTo('POST').length - before.posts, puts: w.emulator.callsTo('PUT').length - before.puts };
  for (let i = 0; i < 3; i++) {
    await w.clock.advance(3_600_000);
    await drain(w, await w.invoke({ 'detail-type': 'Scheduled Event' }));
  }
  const roles = new Map<string, number>();
  for (const a of w.emulator.accounts.values()) roles.set(a.roleArn, (roles.get(a.roleArn) ?? 0) + 1);
  const desired = new Set(w.aws.orgs.accountsOf(w.ou).map(a => `arn:aws:iam::${a.id}:role/cloudcraft`));
  return {
    accounts,
    postsOfTheBadRun: bad.posts,
    putsOfTheBadRun: bad.puts,
    duplicates: [...roles.values()].reduce((sum, n) => sum + n - 1, 0),
    orphans: [...roles.keys()].filter(r => !desired.has(r)).length,
  };
}

export interface DeployAnswerResult {
  readonly accounts: number;
  readonly reading: string;
  /** How long CloudFormation's Update waited for its answer while the first run was registering. */
  readonly answerSeconds: number;
  /** Whether the run asked for after it applied the new settings. */
  readonly applied: boolean;
}

/** A deployment's Update sent a minute into a long run (1,000 accounts under 20 per minute). */
export async function benchDeployAnswer(accounts: number): Promise<DeployAnswerResult> {
  const w = world({ accounts, windowMs: 60_000, countRejected: true });
  await w.invoke(cfn(w, 'Custom::CloudcraftIamParameters'));
  let sentAt = 0;
  const [first] = await w.clock.run(Promise.all([
    w.launch(cfn(w, 'Custom::CloudcraftOrganizationRegistrar')),
    (async () => {
      await w.clock.sleep(60_000);
      sentAt = w.clock.now();
      w.props = { ...w.props, Settings: { ...(w.props.Settings as object), naming: { pattern: '{name} (renamed)', names: {} } } };
      return w.launch(cfn(w, 'Custom::CloudcraftOrganizationRegistrar', 'Update'));
    })(),
  ]));
  const answer = w.answers.find(a => a.body.RequestId === 'Custom::CloudcraftOrganizationRegistrar-Update');
  await drain(w, first);
  return {
    accounts,
    reading: '20 per 60 s, 429s counted',
    answerSeconds: answer ? (answer.at - sentAt) / 1000 : NaN,
    applied: [...w.emulator.accounts.values()].every(a => a.name.endsWith('(renamed)')),
  };
}

if (require.main === module) {
  const accounts = Number(process.argv[2] ?? 1000);
  const windowMs = Number(process.argv[3] ?? 60_000);
  const countRejected = process.argv[4] === 'counted';
  const foreign = process.argv[5] === 'foreign' ? { perWindow: 4 } : undefined;
  benchRegistrar({ accounts, windowMs, countRejected, foreign }).then(r => process.stdout.write(`${JSON.stringify(r)}\n`), err => {
    process.stderr.write(`${err?.stack ?? err}\n`);
    process.exit(1);
  });
}
