/**
 * Registration while a diagram round is in progress, benchmarked on virtual time: the real Organization registrar
 * (createRegistrar) and the real diagram function (createDiagramsHandler) on one clock, against one Cloudcraft
 * emulator with the stricter reading of the limit (20 per 60 s, 429s counted), sharing the one record of the key's
 * pacing as the Organization case deploys them: the item meta#pacer of the registrar's ledger (the diagram function's
 * pacingTable is the ledger, and its accounts are the ledger's registered ones). The ledger is MemoryAws's, reached by
 * the registrar through its AwsIo and by the diagram function through an ItemTables adapter over the same items.
 *
 * The scenario: the registrar registers the Organization's N accounts from its deployment; the next day the diagram
 * schedule opens a round (ticks every 15 minutes continue it); `joinAtMinutes` into it a new member account's stack
 * instance becomes CURRENT and the StackInstance event starts the registrar. The same world without the round is the
 * anchor. Figures: seconds from the registrar's trigger to the new account's accepted POST, with and without the
 * round, and the 429s of each (the registrar's, and the key's in the measured span).
 */
import { benchOrganization, benchRegistrarConfig, EXTERNAL_ID, KEY, STACK_ID } from './bench-registrar';
import { createDiagramsHandler } from '../lib/diagrams/worker';
import { DiagramsEnvironment } from '../lib/diagrams/worker/contract';
import { DiagramSummary } from '../lib/diagrams/worker/run';
import { createRegistrar, RunSummary } from '../lib/organization/registrar';
import { ItemTables } from '../lib/runtime/items';
import { CloudcraftEmulator, IN_PROCESS_URL, SeenCall } from '../test/support/cloudcraft-emulator';
import { MemoryAws } from '../test/support/memory-aws';
import { MemoryDiagramIo } from '../test/support/memory-diagrams';
import { VirtualClock } from '../test/support/virtual-clock';

const LEDGER = 'ledger';
const REGION = 'eu-west-1';
/** The construct's default share: requests a minute the diagram work leaves to registration. */
const RESERVE = 5;
const TICK_MS = 15 * 60_000;
const LAMBDA_MS = 15 * 60_000;
const DAY_MS = 86_400_000;
/** A snapshot: GET /aws/account/{id}/{region}/{format}; everything else the registrar calls. */
const SNAPSHOT_PATH = /^\/aws\/account\/[^/]+\/[^/]+\/[^/]+$/;
const SEED = 42;

export interface TogetherBenchCase {
  readonly accounts: number;
  /** How long Cloudcraft takes to scan an account-region. */
  readonly scanMs: number;
  /** When the new account's stack instance becomes CURRENT, in minutes after the round opened: one world each. */
  readonly joinAtMinutes: number[];
}

/** Over the join times: the median and the longest, and each. */
export interface Seconds {
  readonly median: number;
  readonly max: number;
  readonly each: number[];
}

export interface RegistrationFigures {
  /** From the registrar's trigger (the StackInstance event) to the new account's accepted POST. */
  readonly registrationSeconds: Seconds;
  /** The registrar's calls in that run (and its continuations), all join times together, and the 429s among them. */
  readonly registrarCalls: number;
  readonly registrarRejected429: number;
  /** Every 429 of the key from the round's opening (or the same moment without it) to the registrar's last answer. */
  readonly keyRejected429: number;
}

export interface TogetherBenchResult {
  readonly accounts: number;
  readonly scanMs: number;
  readonly joinAtMinutes: number[];
  readonly reading: string;
  /** Requests a minute the diagram work leaves to registration. */
  readonly reservePerMinute: number;
  readonly share: string;
  readonly withDiagrams: RegistrationFigures & {
    /** The diagram work's accepted calls in the minute before the trigger (the most over the join times). */
    readonly diagramAcceptedInMinuteBeforeTrigger: number;
    /** The diagram work's 429s from the round's opening to the registrar's last answer. */
    readonly diagramRejected429: number;
  };
  readonly withoutDiagrams: RegistrationFigures;
  readonly realSeconds: number;
}

/** A seeded generator (the registrar's jitter): both worlds draw the same numbers. */
function seeded(seed: number): () => number {
  let s = seed;
  return () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

interface World {
  readonly clock: VirtualClock;
  readonly emulator: CloudcraftEmulator;
  readonly aws: MemoryAws;
  readonly ou: string;
  readonly registrar: (event: unknown) => Promise<RunSummary>;
  readonly diagrams: (kind: 'schedule' | 'tick') => Promise<DiagramSummary | { error: string }>;
  addAccount(i: number): string;
  /** The deployment as CloudFormation runs it: the IAM parameters resource, then the registrar's Create, continued. */
  deploy(): Promise<RunSummary>;
}

function world(c: { readonly accounts: number; readonly scanMs: number }): World {
  const clock = new VirtualClock();
  const emulator = new CloudcraftEmulator({
    users: [{ key: KEY, id: 'owner', externalId: EXTERNAL_ID }],
    clock,
    rateLimit: { requests: 20, windowMs: 60_000, retryAfter: 'seconds', countRejected: true },
  });
  emulator.snapshotScanMs = c.scanMs;
  const { aws, ou, addAccount } = benchOrganization(emulator, c.accounts, id => emulator.inventories.set(`${id}/${REGION}`, [{ id: `i-${id}`, type: 'ec2' }]));

  const { environment, settings } = benchRegistrarConfig(LEDGER);
  const props = { Settings: settings, Targets: [ou], ExternalId: EXTERNAL_ID, Environment: JSON.stringify(environment) };
  const handler = createRegistrar({
    clock,
    transport: emulator.transport(async () => ({ status: 200, headers: {}, text: '' })),
    io: aws.io(),
    readSecret: async () => KEY,
    sink: () => undefined,
    environment,
    random: seeded(SEED),
  });
  let requests = 0;
  const registrar = (event: unknown) => {
    const deadline = clock.now() + LAMBDA_MS;
    return handler(event, { getRemainingTimeInMillis: () => deadline - clock.now(), functionName: 'registrar', awsRequestId: `r${++requests}` });
  };

  // The diagram function as the Organization case deploys it: its pacing record and its accounts are the ledger's.
  const ledger = aws.io();
  const tables: ItemTables = {
    scan: table => ledger.ledgerScan(table),
    get: (table, pk) => ledger.ledgerGet(table, pk),
    put: (table, pk, data, expected) => ledger.ledgerPut(table, pk, data, expected),
    remove: (table, pk) => ledger.ledgerDelete(table, pk),
  };
  const diagramsEnvironment: DiagramsEnvironment = {
    apiUrl: IN_PROCESS_URL,
    apiKey: environment.apiKey,
    stateTable: 'diagrams',
    pacingTable: LEDGER,
    accounts: { ledgerTable: LEDGER },
    bucket: 'diagrams',
    prefix: 'd/',
    regions: [REGION],
    formats: ['png', 'svg'],
    query: '',
    concurrency: 8,
    reservePerMinute: RESERVE,
    metricsNamespace: 'cdk-cloudcraft',
    metricsDimension: 'diagrams',
  };
  const diagramHandler = createDiagramsHandler({
    clock,
    transport: emulator.transport(),
    tables,
    io: new MemoryDiagramIo(),
    readSecret: async () => KEY,
    sink: () => undefined,
    random: () => 0.5,
    environment: diagramsEnvironment,
  });
  let diagramRequests = 0;
  const diagrams = (kind: 'schedule' | 'tick') => {
    const deadline = clock.now() + LAMBDA_MS;
    return diagramHandler({ kind }, { awsRequestId: `d${++diagramRequests}`, getRemainingTimeInMillis: () => deadline - clock.now() });
  };

  // The deployment: the IAM parameters resource, then the registrar's Create.
  const cfn = (ResourceType: string) => ({
    RequestType: 'Create',
    ResourceType,
    ResponseURL: 'https://cloudformation-answers.test/answer',
    StackId: STACK_ID,
    RequestId: `${ResourceType}-Create`,
    LogicalResourceId: 'Registrar',
    ResourceProperties: props,
  });
  const w: World = {
    clock,
    emulator,
    aws,
    ou,
    registrar,
    diagrams,
    addAccount,
    deploy: () => clock.run(async () => {
      await registrar(cfn('Custom::CloudcraftIamParameters'));
      return drain(w, await registrar(cfn('Custom::CloudcraftOrganizationRegistrar')));
    }),
  };
  return w;
}

/** Continues as Lambda would: each invocation the registrar asked for, until none is asked for. */
async function drain(w: World, first: RunSummary, limit = 500): Promise<RunSummary> {
  let summary = first;
  for (let runs = 1; w.aws.invocations.length > 0 && runs < limit; runs++) {
    summary = await w.registrar(w.aws.invocations.shift()!.payload);
  }
  return summary;
}

/** The registrar's calls (everything but snapshots). */
const isRegistrars = (x: SeenCall) => !SNAPSHOT_PATH.test(x.path);

/**
 * One world: registered from its deployment, then the next day (at the same virtual time in both worlds) the round
 * opens or not, and `joinAtMinutes` later the new account's StackInstance event starts the registrar.
 */
async function scenario(c: TogetherBenchCase, joinAtMinutes: number, withRound: boolean) {
  const w = world(c);
  const deployed = await w.deploy();
  if (!deployed.complete || w.emulator.accounts.size !== c.accounts) {
    throw new Error(`bench: the registrar registered ${w.emulator.accounts.size} of ${c.accounts} accounts (${JSON.stringify(deployed)})`);
  }
  // The next day's schedule, at the same time in both worlds.
  await w.clock.advance(DAY_MS - (w.clock.now() % DAY_MS));
  const callsAtOpening = w.emulator.calls.length;

  // The round: the schedule, then a tick every 15 minutes. Not awaited: once the registrar is done, the world is left
  // (the invocation in progress is not needed for the figures).
  let roundFailed: unknown;
  if (withRound) {
    void (async () => {
      let kind: 'schedule' | 'tick' = 'schedule';
      for (;;) {
        const startedAt = w.clock.now();
        const summary = await w.diagrams(kind);
        if ('error' in summary && summary.error) throw new Error(`bench: the diagram function failed: ${summary.error}`);
        if ((summary as DiagramSummary).finished) return;
        kind = 'tick';
        await w.clock.sleep(Math.max(0, startedAt + TICK_MS - w.clock.now()));
      }
    })().catch(err => {
      roundFailed = err;
    });
  }

  let triggeredAt = 0;
  let joined = '';
  let callsAtTrigger = 0;
  const registration = (async () => {
    await w.clock.sleep(joinAtMinutes * 60_000);
    joined = w.addAccount(c.accounts);
    triggeredAt = w.clock.now();
    callsAtTrigger = w.emulator.calls.length;
    const event = { 'detail-type': 'CloudFormation StackSet StackInstance Status Change', 'source': 'aws.cloudformation', 'time': new Date(triggeredAt).toISOString(), 'detail': {} };
    return drain(w, await w.registrar(event));
  })();
  const summary = await w.clock.run(registration);
  if (roundFailed) throw roundFailed;
  if (!summary.complete) throw new Error(`bench: the registrar's run did not complete (${JSON.stringify(summary)})`);

  const role = `arn:aws:iam::${joined}:role/cloudcraft`;
  const span = w.emulator.calls.slice(callsAtOpening);
  const afterTrigger = w.emulator.calls.slice(callsAtTrigger);
  const post = afterTrigger.find(x => x.method === 'POST' && x.body?.roleArn === role && x.status === 201);
  if (!post) throw new Error('bench: the new account was not registered');
  const registrarCalls = afterTrigger.filter(isRegistrars);
  const lastRegistrarAnswer = Math.max(...registrarCalls.map(x => x.at));
  const inSpan = span.filter(x => x.at <= lastRegistrarAnswer);
  const beforeTrigger = span.filter(x => x.at <= triggeredAt && !isRegistrars(x));
  return {
    registrationSeconds: (post.at - triggeredAt) / 1000,
    registrarCalls: registrarCalls.length,
    registrarRejected429: registrarCalls.filter(x => x.status === 429).length,
    keyRejected429: inSpan.filter(x => x.status === 429).length,
    diagramAcceptedInMinuteBeforeTrigger: beforeTrigger.filter(x => x.at > triggeredAt - 60_000 && x.status !== 429).length,
    diagramRejected429: inSpan.filter(x => !isRegistrars(x) && x.status === 429).length,
  };
}

type Sample = Awaited<ReturnType<typeof scenario>>;

function seconds(values: number[]): Seconds {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  const round = (x: number) => Number(x.toFixed(1));
  return { median: round(median), max: round(sorted[sorted.length - 1]), each: values.map(round) };
}

function figures(samples: Sample[]): RegistrationFigures {
  const sum = (f: (s: Sample) => number) => samples.reduce((total, s) => total + f(s), 0);
  return {
    registrationSeconds: seconds(samples.map(s => s.registrationSeconds)),
    registrarCalls: sum(s => s.registrarCalls),
    registrarRejected429: sum(s => s.registrarRejected429),
    keyRejected429: sum(s => s.keyRejected429),
  };
}

/** For each join time, the world with the round and the same world without it. */
export async function benchTogether(c: TogetherBenchCase): Promise<TogetherBenchResult> {
  const started = Date.now();
  const withRound: Sample[] = [];
  const without: Sample[] = [];
  for (const join of c.joinAtMinutes) {
    withRound.push(await scenario(c, join, true));
    without.push(await scenario(c, join, false));
  }
  return {
    accounts: c.accounts,
    scanMs: c.scanMs,
    joinAtMinutes: c.joinAtMinutes,
    reading: '20 per 60 s, 429s counted',
    reservePerMinute: RESERVE,
    share: `${RESERVE} a minute left to registration (${20 - RESERVE} of the documented 20 to the diagram work)`,
    withDiagrams: {
      ...figures(withRound),
      diagramAcceptedInMinuteBeforeTrigger: Math.max(...withRound.map(s => s.diagramAcceptedInMinuteBeforeTrigger)),
      diagramRejected429: withRound.reduce((total, s) => total + s.diagramRejected429, 0),
    },
    withoutDiagrams: figures(without),
    realSeconds: Number(((Date.now() - started) / 1000).toFixed(1)),
  };
}

/** Minute 20 of the round, at 8 phases of that minute (every 7.5 s): where the key's minute stands varies with them. */
export const JOIN_AT_MINUTES = Array.from({ length: 8 }, (_, i) => 20 + i / 8);

if (require.main === module) {
  const accounts = Number(process.argv[2] ?? 1000);
  const scanMs = Number(process.argv[3] ?? 30_000);
  const joinAtMinutes = process.argv[4] ? process.argv[4].split(',').map(Number) : JOIN_AT_MINUTES;
  benchTogether({ accounts, scanMs, joinAtMinutes }).then(r => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`), err => {
    process.stderr.write(`${err?.stack ?? err}\n`);
    process.exit(1);
  });
}
