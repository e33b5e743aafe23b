/**
 * The diagram work's function: on the user's schedule it opens a round, on each tick it continues the open one, and
 * it keeps every connected account-region's diagram in S3 (run.ts; decisions in plan.ts). It calls Cloudcraft with
 * the installation's API key, paced by the one record of the key's pacing that the Organization registrar also uses,
 * leaving registration its share.
 *
 * Its inputs: the environment (contract.ts: where the key goes, what it may write, fixed at synth) and the event,
 * which only says which trigger it is; any other event is refused without a call.
 */
import { sdkDiagramIo } from './aws';
import { BLUEPRINT_MODES } from './blueprint-plan';
import { DIAGRAMS_ENVIRONMENT_VARIABLE, DiagramsEnvironment } from './contract';
import { DiagramIo, DiagramRun, DiagramSummary, SNAPSHOT_CALL_MS, SNAPSHOT_MIN_START_MS } from './run';
import { describeKeySource, readApiKey, SecretReader, sdkSecretReader } from '../../runtime/api-key';
import { isApiUrl } from '../../runtime/api-url';
import { Clock, systemClock } from '../../runtime/clock';
import { CloudcraftClient, Log } from '../../runtime/cloudcraft';
import { fetchTransport, Transport } from '../../runtime/http';
import { ItemTables, pacingStoreIn, sdkItemTables } from '../../runtime/items';
import { makeLog } from '../../runtime/log';
import { SharedPacing } from '../../runtime/pacing';
import { Redactor } from '../../runtime/redact';

export interface DiagramsDeps {
  readonly clock: Clock;
  readonly transport: Transport;
  readonly tables: ItemTables;
  /** S3, EventBridge and the state table; made from `tables` and the environment when not given. */
  readonly io?: DiagramIo;
  readonly readSecret: SecretReader;
  readonly sink: (line: string) => void;
  readonly random: () => number;
  /** Read from CDK_CLOUDCRAFT_DIAGRAMS when not given. */
  readonly environment?: DiagramsEnvironment;
}

export interface LambdaContext {
  readonly awsRequestId?: string;
  getRemainingTimeInMillis(): number;
}

/** Kept back from the function's end: the last record writes and the summary. */
const RESERVE_MS = 20_000;

export function createDiagramsHandler(partial: Partial<DiagramsDeps> = {}) {
  const deps: DiagramsDeps = {
    clock: systemClock,
    transport: fetchTransport(),
    tables: sdkItemTables(),
    readSecret: sdkSecretReader,
    sink: line => console.log(line),
    random: Math.random,
    ...partial,
  };
  return (event: unknown, context: LambdaContext) => handle(deps, event, context);
}

export const handler = createDiagramsHandler();

/** Never throws: the next tick takes up what failed (an EventBridge retry would only repeat it). */
async function handle(deps: DiagramsDeps, event: unknown, context: LambdaContext): Promise<DiagramSummary | { error: string }> {
  const redactor = new Redactor();
  const trigger = (event as { kind?: unknown } | undefined)?.kind;
  const log: Log = makeLog(deps.sink, redactor, { component: 'diagrams', trigger: typeof trigger === 'string' ? trigger.slice(0, 20) : undefined });
  if (trigger !== 'schedule' && trigger !== 'tick') {
    const error = 'cdk-cloudcraft diagrams: the event is not one of this function\'s rules ({"kind": "schedule"} or {"kind": "tick"}): refused, nothing done.';
    log('error', error);
    return { error };
  }
  try {
    const env = deps.environment ?? parseEnvironment(process.env[DIAGRAMS_ENVIRONMENT_VARIABLE]);
    const started = deps.clock.now();
    const key = await readApiKey(env.apiKey, deps.readSecret, redactor);
    const client = new CloudcraftClient({
      apiUrl: env.apiUrl,
      apiKey: key,
      keySource: describeKeySource(env.apiKey),
      clock: deps.clock,
      transport: deps.transport,
      pacing: new SharedPacing(pacingStoreIn(deps.tables, env.pacingTable), started,
        err => log('warn', 'the key\'s pacing record could not be read or written', { error: (err as Error)?.name }),
        { reservePerMinute: env.reservePerMinute }),
      log,
      random: deps.random,
      deadlineAt: started + context.getRemainingTimeInMillis() - RESERVE_MS,
      keepBodies: true,
      callTimeoutMs: SNAPSHOT_CALL_MS,
      minCallMs: SNAPSHOT_MIN_START_MS,
    });
    const run = new DiagramRun({
      io: deps.io ?? sdkDiagramIo(deps.tables, env.stateTable, env.bucket),
      client,
      clock: deps.clock,
      log,
      settings: {
        regions: env.regions,
        formats: env.formats,
        query: env.query,
        prefix: env.prefix,
        concurrency: env.concurrency,
        ...(env.blueprints ? { blueprints: env.blueprints } : {}),
      },
      targets: () => accountsOf(deps.tables, env),
      owner: `${context.awsRequestId ?? 'local'}:${Math.floor(deps.random() * 1e9).toString(36)}`,
    });
    const summary = await run.run(trigger);
    log(summary.error ? 'error' : 'info', 'run summary', { ...summary });
    deps.sink(metricsLine(summary, env.metricsNamespace, env.metricsDimension, deps.clock.now()));
    return summary;
  } catch (err) {
    const error = `cdk-cloudcraft diagrams: ${(err as Error)?.name ?? 'Error'}: ${String((err as Error)?.message ?? err).slice(0, 300)}`;
    log('error', 'invocation failed', { error });
    return { error: redactor.redact(error) };
  }
}

/** The accounts to draw: this stack's registrations, or every account the Organization registrar registered. */
export async function accountsOf(tables: ItemTables, env: DiagramsEnvironment): Promise<Array<{ accountId: string; registrationId: string }>> {
  if ('registrations' in env.accounts) return env.accounts.registrations;
  const accounts: Array<{ accountId: string; registrationId: string }> = [];
  for (const item of await tables.scan(env.accounts.ledgerTable)) {
    const entry = item.data as { accountId?: unknown; state?: unknown; cloudcraftId?: unknown } | undefined;
    if (!item.pk.startsWith('account#') || entry?.state !== 'registered') continue;
    if (typeof entry.accountId === 'string' && typeof entry.cloudcraftId === 'string' && entry.cloudcraftId !== '') {
      accounts.push({ accountId: entry.accountId, registrationId: entry.cloudcraftId });
    }
  }
  return accounts.sort((a, b) => (a.accountId < b.accountId ? -1 : a.accountId > b.accountId ? 1 : 0));
}

export function parseEnvironment(text: string | undefined): DiagramsEnvironment {
  let env: DiagramsEnvironment;
  try {
    env = JSON.parse(text ?? '');
  } catch {
    throw new Error(`${DIAGRAMS_ENVIRONMENT_VARIABLE} is not set or not JSON`);
  }
  const strings = ['apiUrl', 'stateTable', 'pacingTable', 'bucket', 'prefix', 'query', 'metricsNamespace', 'metricsDimension'] as const;
  if (!env || strings.some(k => typeof env[k] !== 'string') || !Array.isArray(env.regions) || !Array.isArray(env.formats)
    || typeof env.concurrency !== 'number' || typeof env.reservePerMinute !== 'number' || !env.apiKey || !env.accounts) {
    throw new Error(`${DIAGRAMS_ENVIRONMENT_VARIABLE} does not have the shape this function expects (another version of cdk-cloudcraft deployed it?)`);
  }
  if (env.blueprints !== undefined && !BLUEPRINT_MODES.includes(env.blueprints)) {
    throw new Error(`${DIAGRAMS_ENVIRONMENT_VARIABLE}: blueprints is not one of ${BLUEPRINT_MODES.join(', ')}`);
  }
  if (!isApiUrl(env.apiUrl)) throw new Error(`${DIAGRAMS_ENVIRONMENT_VARIABLE}: apiUrl is not an https URL`);
  return env;
}

/** One CloudWatch Embedded Metric Format line (CloudWatch Logs makes the metrics: no API call, no permission). */
export function metricsLine(summary: DiagramSummary, namespace: string, stateTable: string, now: number): string {
  const metrics: Record<string, number> = {
    DiagramSnapshots: summary.snapshots,
    DiagramsChanged: summary.changed,
    DiagramsFailed: summary.failed,
    DiagramsLeft: summary.left,
    BlueprintsWritten: summary.blueprints,
    BlueprintsDiverged: summary.diverged,
    CloudcraftCalls: summary.calls,
    DiagramRunStopped: summary.error ? 1 : 0,
  };
  return JSON.stringify({
    _aws: { Timestamp: now, CloudWatchMetrics: [{ Namespace: namespace, Dimensions: [['StateTable']], Metrics: Object.keys(metrics).map(Name => ({ Name, Unit: 'Count' })) }] },
    StateTable: stateTable,
    ...metrics,
  });
}
