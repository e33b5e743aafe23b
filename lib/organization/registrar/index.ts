/**
 * The Organization registrar: the one writer that keeps Cloudcraft in step with an AWS Organization. It runs in the
 * management account (or the StackSets delegated administrator) with reserved concurrency 1, on a schedule, on the
 * StackSet's stack-instance events, and as the custom resource of its own stack (Create/Update: reconcile; Delete:
 * deregister everything it owns). The API key never leaves this account.
 *
 * A run: read the ledger (what it owns), the Organization and the StackSet's instances (what is desired), and
 * Cloudcraft's account list (what is); plan (reconcile.ts, pure); carry the plan out under one pacer, writing the
 * ledger before each POST (so an unconfirmed POST is recognised later) and after each change; publish metrics.
 * Time, HTTP and AWS I/O are injected (createRegistrar), so tests run it on virtual time.
 */
import { AwsIo, sdkIo } from './aws';
import { CONFIG_VARIABLE, nameOf, parseConfig, RegistrarConfig, roleArnOf, teamEntries } from './config';
import { Action, afterRefusal, DesiredAccount, LedgerEntry, plan, planRemoveAll, registrationBody } from './reconcile';
import { readApiKey, SecretReader, sdkSecretReader, describeKeySource } from '../../runtime/api-key';
import { Clock, systemClock } from '../../runtime/clock';
import { CloudcraftClient, CloudcraftError, Log } from '../../runtime/cloudcraft';
import { fetchTransport, Transport } from '../../runtime/http';
import { makeLog } from '../../runtime/log';
import { Pacer, PacerState } from '../../runtime/pacer';
import { CloudcraftAccount } from '../../runtime/policy';
import { Redactor } from '../../runtime/redact';
import { ANSWER_BUDGET_MS, answer, answerBody, CfnEvent, CfnResult, isCfnEvent } from '../../runtime/respond';

export interface RegistrarDeps {
  readonly clock: Clock;
  readonly transport: Transport;
  readonly io: AwsIo;
  readonly readSecret: SecretReader;
  readonly sink: (line: string) => void;
  readonly random: () => number;
  /** Read from CDK_CLOUDCRAFT_REGISTRAR when not given. */
  readonly config?: RegistrarConfig;
}

export interface LambdaContext {
  readonly functionName?: string;
  getRemainingTimeInMillis(): number;
}

/** What one run did, for metrics, logs and tests. */
export interface RunSummary {
  readonly trigger: string;
  readonly skipped?: string;
  readonly desired: number;
  readonly registered: number;
  readonly pending: number;
  readonly failed: number;
  readonly removed: number;
  readonly calls: number;
  readonly rejected429: number;
  readonly complete: boolean;
  readonly error?: string;
}

/** How long an unconfirmed POST may take to show up in Cloudcraft's list. */
export const SETTLE_MS = 60_000;
/** Time kept back from the function's deadline: the answer to CloudFormation and the last ledger writes. */
const RESERVE_MS = ANSWER_BUDGET_MS + 10_000;
/** Continuations of a run that stopped at its deadline (15 minutes each): about a day of work. */
const MAX_CONTINUATIONS = 96;
const LEDGER_ACCOUNT = 'account#';
const META_PACER = 'meta#pacer';
const META_RUN = 'meta#run';
const META_DEPLOYMENT = 'meta#deployment';
/**
 * Written by the stack's Delete before it removes anything. Reserved concurrency 1 queues invocations, so a run sent
 * before the Delete (a schedule, a stack-instance event, a continuation, a Create delivered again) can start after it,
 * while the function, the StackSet and its instances still exist: without this it would register every account
 * again, and nobody would remove those registrations. It is final: the ledger table belongs to one stack (its name
 * is generated), and after its Delete no deployment of that stack can follow. The other end of the registrar's
 * lifetime is META_DEPLOYMENT: until a Create has recorded it, runs (StackSet events while the stack is created)
 * register nothing, as a stack whose creation fails would never send the Delete that removes them.
 */
const META_DELETED = 'meta#deleted';
const IAM_PARAMETERS_TYPE = 'Custom::CloudcraftIamParameters';

interface Ledger {
  readonly entries: Map<string, LedgerEntry>;
  pacer?: PacerState;
  lastRunStartedAt?: number;
  /** The external ID the member roles trust, recorded by each deployment. */
  externalId?: string;
  /** When the stack's Delete started removing (runs after it do nothing). */
  deletedAt?: number;
  /** A Create of the registrar's resource was recorded (runs before it do nothing). */
  deployed?: boolean;
}

type Trigger =
  // A stack Delete that continues itself carries CloudFormation's event, the end of its window, and what it removed.
  | { kind: 'deploy'; event: CfnEvent; until?: number; removed?: number }
  | { kind: 'instance-event'; time: number }
  | { kind: 'schedule' }
  | { kind: 'continue'; depth: number };

function triggerOf(event: unknown): Trigger {
  if (isCfnEvent(event)) return { kind: 'deploy', event };
  const e = (event ?? {}) as Record<string, unknown>;
  if (e.cdkCloudcraft === 'delete' && isCfnEvent(e.event)) return { kind: 'deploy', event: e.event, until: Number(e.until) || 0, removed: Number(e.removed) || 0 };
  if (e.cdkCloudcraft === 'continue') return { kind: 'continue', depth: Number(e.depth) || 1 };
  if (e['detail-type'] === 'CloudFormation StackSet StackInstance Status Change') {
    const time = Date.parse(String(e.time ?? ''));
    return { kind: 'instance-event', time: Number.isNaN(time) ? Infinity : time };
  }
  return { kind: 'schedule' };
}

export function createRegistrar(partial: Partial<RegistrarDeps> = {}) {
  const deps: RegistrarDeps = {
    clock: systemClock,
    transport: fetchTransport(),
    io: sdkIo(),
    readSecret: sdkSecretReader,
    sink: line => console.log(line),
    random: Math.random,
    ...partial,
  };
  return async (event: unknown, context: LambdaContext): Promise<RunSummary> => {
    const redactor = new Redactor();
    const trigger = triggerOf(event);
    const log = makeLog(deps.sink, redactor, { component: 'registrar', trigger: trigger.kind });
    const now = deps.clock.now();
    let deadlineAt = now + context.getRemainingTimeInMillis() - RESERVE_MS;
    const end = deadlineAt + RESERVE_MS - 500;
    // A stack Delete works within CloudFormation's window, not only the function's.
    const until = trigger.kind === 'deploy' && trigger.event.RequestType === 'Delete' ? trigger.until || deleteWindowEnd(trigger.event, now) : Infinity;
    deadlineAt = Math.min(deadlineAt, until - RESERVE_MS);
    let config: RegistrarConfig;
    try {
      config = deps.config ?? parseConfig(process.env[CONFIG_VARIABLE]);
    } catch (err) {
      const reason = `cdk-cloudcraft registrar: cannot read its configuration (${(err as Error).message}).`;
      log('error', reason);
      if (trigger.kind === 'deploy') await respond(deps, trigger.event, { status: 'FAILED', physicalId: trigger.event.PhysicalResourceId ?? 'cloudcraft-registrar', reason }, log, redactor, end);
      return emptySummary(trigger.kind, { error: reason });
    }
    const run = new Run(deps, config, log, redactor, deadlineAt, (context as LambdaContext).functionName ?? config.functionName);

    if (trigger.kind === 'deploy' && trigger.event.ResourceType === IAM_PARAMETERS_TYPE) {
      await respond(deps, trigger.event, await run.iamParameters(trigger.event), log, redactor, end);
      return emptySummary('iam-parameters', {});
    }
    if (trigger.kind === 'deploy') {
      const physicalId = `cloudcraft-registrar:${config.stackSetName}`;
      if (trigger.event.RequestType === 'Delete' && trigger.event.PhysicalResourceId !== physicalId) {
        // The Delete of a replaced resource (the StackSet renamed, or the rollback of such a rename): the ledger and
        // its registrations belong to the resource that replaced it. Removing them would change every account's ID in
        // Cloudcraft, and with it every diagram that uses them.
        const reason = `Replaced by ${physicalId}: its registrations stay in Cloudcraft, owned by the replacement.`;
        log('info', 'delete of a replaced resource: nothing removed', { physicalId: trigger.event.PhysicalResourceId, current: physicalId });
        await respond(deps, trigger.event, { status: 'SUCCESS', physicalId: trigger.event.PhysicalResourceId ?? physicalId, reason }, log, redactor, end);
        return emptySummary('delete', { complete: true, skipped: 'replaced' });
      }
      if (trigger.event.RequestType === 'Delete') {
        const summary = await run.removeAll();
        const removed = (trigger.removed ?? 0) + summary.removed;
        // Stopped by the deadline (or a passing fault) after some progress: continue in a new invocation while
        // CloudFormation's window (its ServiceTimeout) leaves time, answering from the last one.
        const fn = run.functionName;
        // (No progress and time left, as when the ledger cannot be read: a new invocation would fail the same way.)
        const spent = summary.removed > 0 || deps.clock.now() >= deadlineAt - 60_000;
        const stopped = !summary.complete && summary.error && !REFUSED.test(summary.error) && spent;
        if (stopped && fn && until - deps.clock.now() > 5 * 60_000) {
          try {
            await deps.io.invokeAsync(fn, { cdkCloudcraft: 'delete', event: trigger.event, until, removed });
            log('info', 'the Delete continues', { removed });
            return summary;
          } catch (err) {
            log('warn', 'cannot continue the Delete', { error: (err as Error)?.name });
          }
        }
        const left = summary.error ? ` ${summary.error}` : '';
        // A Delete never fails: a FAILED answer would only leave the stack in DELETE_FAILED. What is left is in the
        // ledger table, which the stack keeps (unless ledgerRemovalPolicy is DESTROY).
        await respond(deps, trigger.event, {
          status: 'SUCCESS',
          physicalId,
          reason: summary.complete ? `Removed ${removed} registrations from Cloudcraft.` : `Removed ${removed} registrations; others remain in Cloudcraft, listed in the ledger table ${config.ledgerTable}.${left}`,
        }, log, redactor, end);
        return summary;
      }
      // Create/Update: record what the deployment says, answer at once (the deployment does not wait on Cloudcraft's
      // rate limit), then reconcile. One that comes after the stack's Delete is a stale delivery: nothing is done.
      if ((await run.readLedger())?.deletedAt !== undefined) {
        log('warn', 'deployment after the Delete: ignored');
        await respond(deps, trigger.event, { status: 'SUCCESS', physicalId, reason: 'The stack deleted this registrar: nothing done.' }, log, redactor, end);
        return emptySummary(trigger.kind, { skipped: 'deleted' });
      }
      await run.recordDeployment(trigger.event);
      await respond(deps, trigger.event, { status: 'SUCCESS', physicalId, data: { LedgerTable: config.ledgerTable } }, log, redactor, end);
      return run.reconcile(trigger.kind, true, 0);
    }
    if (trigger.kind === 'instance-event') {
      const ledger = await run.readLedger();
      if (ledger && ledger.lastRunStartedAt !== undefined && ledger.lastRunStartedAt > trigger.time) {
        log('info', 'skipped: covered by a later run');
        return emptySummary(trigger.kind, { skipped: 'covered by a later run' });
      }
    }
    return run.reconcile(trigger.kind, false, trigger.kind === 'continue' ? trigger.depth : 0);
  };
}

export const handler = createRegistrar();

const WAITING = 'waiting for unconfirmed registrations';

/** Errors a new invocation would meet again: the key refused. */
const REFUSED = /rejected the API key|refused/;

/**
 * When CloudFormation stops waiting for a Delete (its ServiceTimeout from the request, an hour by default), less 5
 * minutes. The request's time is in the pre-signed ResponseURL (X-Amz-Date); without it, now less the longest a
 * queued invocation waits (15 minutes).
 */
function deleteWindowEnd(event: CfnEvent, now: number): number {
  const m = /[?&]X-Amz-Date=(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z/.exec(event.ResponseURL);
  const requested = m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : now - 15 * 60_000;
  return Math.min(requested, now) + (Number(event.ResourceProperties?.ServiceTimeout) || 3_600) * 1_000 - 5 * 60_000;
}

function emptySummary(trigger: string, extra: Partial<RunSummary>): RunSummary {
  return { trigger, desired: 0, registered: 0, pending: 0, failed: 0, removed: 0, calls: 0, rejected429: 0, complete: false, ...extra };
}

/** Answers CloudFormation; on 5xx or network errors, tries again until `until` (the function's end). */
async function respond(deps: RegistrarDeps, event: CfnEvent, result: CfnResult, log: Log, redactor: Redactor, until: number): Promise<void> {
  const ok = await answer(event, answerBody(event, result, t => redactor.redact(t)), deps.clock, deps.transport,
    (attempt, why) => log('warn', 'answer to CloudFormation failed', { attempt, why }), until);
  log(ok ? 'info' : 'error', ok ? 'answered CloudFormation' : 'could not answer CloudFormation', { status: result.status, reason: result.reason });
}

class Run {
  private client?: CloudcraftClient;
  private pacer?: Pacer;
  private ledger: Ledger = { entries: new Map() };
  private removed = 0;
  /** Cloudcraft's accounts as last listed, updated with every change this run made. */
  private seen = new Map<string, CloudcraftAccount>();
  private failures = new Map<string, string>();
  private deployedExternalId?: unknown;

  constructor(
    private readonly deps: RegistrarDeps,
    private readonly config: RegistrarConfig,
    private readonly log: Log,
    private readonly redactor: Redactor,
    private readonly deadlineAt: number,
    readonly functionName: string | undefined,
  ) {}

  /** The custom resource that reads the key owner's external ID and Cloudcraft's AWS account, once per deployment. */
  async iamParameters(event: CfnEvent): Promise<CfnResult> {
    const physicalId = 'cloudcraft-iam-parameters';
    if (event.RequestType === 'Delete') return { status: 'SUCCESS', physicalId: event.PhysicalResourceId ?? physicalId };
    try {
      const client = await this.connect();
      const { accountId, externalId } = await client.iamParameters();
      return { status: 'SUCCESS', physicalId, data: { AccountId: accountId, ExternalId: externalId } };
    } catch (err) {
      return { status: 'FAILED', physicalId: event.PhysicalResourceId ?? physicalId, reason: this.describe(err) };
    }
  }

  /**
   * The external ID of the key's user, which tells its registrations from another user's: given, recorded by the
   * deployment, or else asked of Cloudcraft (one call); never unknown, or another user's would pass for the key's.
   */
  private async externalId(client: CloudcraftClient): Promise<string> {
    return this.config.externalId ?? this.ledger.externalId ?? (this.ledger.externalId = (await client.iamParameters()).externalId);
  }

  /** Writes an item of the ledger table. */
  private put(pk: string, data: unknown): Promise<void> {
    return this.deps.io.ledgerWrite(this.config.ledgerTable, pk, data);
  }

  /** Deletes an item of the ledger table. */
  private drop(pk: string): Promise<void> {
    return this.deps.io.ledgerDelete(this.config.ledgerTable, pk);
  }

  /** Records the deployment (runs may register from then on) and the external ID it gives (every member role's trust). */
  async recordDeployment(event?: CfnEvent): Promise<void> {
    const externalId = this.deployedExternalId = event?.ResourceProperties?.ExternalId ?? this.deployedExternalId ?? this.ledger.externalId;
    try {
      await this.put(META_DEPLOYMENT, typeof externalId === 'string' && externalId !== '' ? { externalId } : {});
    } catch (err) {
      this.log('warn', 'cannot record the deployment', { error: (err as Error)?.name });
    }
  }

  async readLedger(): Promise<Ledger | undefined> {
    try {
      const items = await this.deps.io.ledgerRead(this.config.ledgerTable);
      const ledger: Ledger = { entries: new Map() };
      for (const { pk, data } of items) {
        if (pk.startsWith(LEDGER_ACCOUNT)) {
          const entry = data as LedgerEntry;
          if (entry && typeof entry.accountId === 'string' && typeof entry.roleArn === 'string') ledger.entries.set(entry.accountId, entry);
        } else if (pk === META_PACER) {
          ledger.pacer = data as PacerState;
        } else if (pk === META_RUN) {
          ledger.lastRunStartedAt = (data as { startedAt?: number })?.startedAt;
        } else if (pk === META_DEPLOYMENT) {
          ledger.deployed = true;
          ledger.externalId = (data as { externalId?: string })?.externalId;
        } else if (pk === META_DELETED) {
          ledger.deletedAt = Number((data as { at?: number })?.at) || 0;
        }
      }
      this.ledger = ledger;
      return ledger;
    } catch (err) {
      this.log('error', 'cannot read the ledger', { table: this.config.ledgerTable, error: (err as Error)?.name ?? String(err) });
      return undefined;
    }
  }

  private async write(entry: LedgerEntry): Promise<void> {
    this.ledger.entries.set(entry.accountId, entry);
    await this.put(`${LEDGER_ACCOUNT}${entry.accountId}`, entry);
  }

  private async forget(accountId: string): Promise<void> {
    this.ledger.entries.delete(accountId);
    await this.drop(`${LEDGER_ACCOUNT}${accountId}`);
  }

  private async connect(): Promise<CloudcraftClient> {
    const key = await readApiKey(this.config.apiKey, this.deps.readSecret, this.redactor);
    this.pacer = new Pacer(this.ledger.pacer, this.deps.clock.now());
    this.client = new CloudcraftClient({
      apiUrl: this.config.apiUrl.replace(/\/+$/, ''),
      apiKey: key,
      keySource: describeKeySource(this.config.apiKey),
      clock: this.deps.clock,
      transport: this.deps.transport,
      pacer: this.pacer,
      log: this.log,
      random: this.deps.random,
      deadlineAt: this.deadlineAt,
    });
    return this.client;
  }

  /** Desired accounts (ACTIVE, in the targets, instance SUCCEEDED in the home region, plus this account) and those to keep. */
  async readDesired(): Promise<{ desired: DesiredAccount[]; keep: Set<string> }> {
    const { io } = this.deps;
    const config = this.config;
    const found = new Map<string, { name: string; state: string; ous: string[] }>();
    const visit = async (parentId: string, ous: string[]): Promise<void> => {
      for (const account of await io.accountsOf(parentId)) {
        // Targets may nest (an OU and one inside it): the longest chain of OUs, whatever the order of the targets.
        if ((found.get(account.id)?.ous.length ?? -1) < ous.length) found.set(account.id, { name: account.name, state: account.state, ous });
      }
      for (const ou of await io.ousOf(parentId)) await visit(ou, [ou, ...ous]);
    };
    for (const target of config.targets) await visit(target, target.startsWith('ou-') ? [target] : []);

    const filter = config.accountFilter;
    const inTargets = (id: string) => !filter || (filter.type === 'INTERSECTION' ? filter.accounts.includes(id) : !filter.accounts.includes(id));
    const instances = new Map<string, string | undefined>();
    for (const instance of await io.stackInstances(config.stackSetName, config.callAs, config.homeRegion)) {
      if (instance.region === config.homeRegion) instances.set(instance.account, instance.detailedStatus);
    }
    const desired: DesiredAccount[] = [];
    const keep = new Set<string>();
    for (const [accountId, account] of found) {
      if (!inTargets(accountId) || account.state !== 'ACTIVE') continue;
      if (config.thisAccount?.accountId === accountId) continue;
      const status = instances.get(accountId);
      if (status === 'SUCCEEDED') desired.push(this.desiredAccount(accountId, roleArnOf(config, accountId), account.name, account.ous));
      // Being deployed, or its last operation failed or was cancelled (the member stack rolled back: a role it had is
      // still there): a registered account is kept (deregistering would change its ID), an unregistered one waits.
      else if (status === 'PENDING' || status === 'RUNNING' || status === 'FAILED' || status === 'CANCELLED') keep.add(accountId);
    }
    const me = config.thisAccount;
    if (me) {
      const self = found.get(me.accountId) ?? await io.describeAccount(me.accountId);
      desired.push(this.desiredAccount(me.accountId, me.roleArn ?? roleArnOf(config, me.accountId), self?.name, found.get(me.accountId)?.ous ?? []));
    }
    return { desired, keep };
  }

  private desiredAccount(accountId: string, roleArn: string, orgName: string | undefined, ous: string[]): DesiredAccount {
    const { access } = this.config;
    const byOu = ous.map(ou => access.byOu?.[ou]).find(a => a !== undefined);
    return {
      accountId,
      roleArn,
      name: nameOf(this.config, accountId, orgName),
      readAccess: teamEntries(byOu?.read !== undefined ? byOu.read : access.read),
      writeAccess: teamEntries(byOu?.write !== undefined ? byOu.write : access.write),
    };
  }

  async reconcile(trigger: string, force: boolean, depth: number): Promise<RunSummary> {
    const { clock } = this.deps;
    const startedAt = clock.now();
    let error: string | undefined;
    let complete = false;
    let desired: DesiredAccount[] | undefined;
    let actual: CloudcraftAccount[] = [];
    const ledger = await this.readLedger();
    if (!ledger) return this.finish(trigger, undefined, [], false, 'cannot read the ledger table', depth);
    if (ledger.deletedAt !== undefined || (!force && !ledger.deployed)) {
      const why = ledger.deletedAt !== undefined ? 'deleted' : 'not deployed yet';
      this.log('info', `skipped: ${why}`);
      return emptySummary(trigger, { skipped: why });
    }
    // A deployment whose record could not be written: written now, or every later run would skip.
    if (!ledger.deployed) await this.recordDeployment();
    try {
      const wanted = await this.readDesired();
      desired = wanted.desired;
      const client = await this.connect();
      actual = await client.listAccounts();
      this.seen = new Map(actual.map(a => [a.id, a]));
      const externalId = await this.externalId(client);
      for (let round = 1; ; round++) {
        const actions = plan({
          desired,
          keep: wanted.keep,
          actual,
          ledger: [...this.ledger.entries.values()],
          now: clock.now(),
          externalId,
          graceMs: this.config.graceMs,
          settleMs: SETTLE_MS,
          force,
        });
        const outcome = await this.execute(actions, actual);
        actual = outcome.actual;
        const settling = actions.some(a => a.kind === 'wait' && !a.conflict && a.why.startsWith('an earlier')) || outcome.ambiguous > 0;
        if (!settling || round >= 3 || client.remaining() < SETTLE_MS + 60_000) {
          complete = !settling;
          // Only a run that finished covers the stack-instance events sent before it started.
          if (complete) await this.put(META_RUN, { startedAt });
          break;
        }
        this.log('info', WAITING, { ms: SETTLE_MS });
        await client.sleep(SETTLE_MS);
        actual = await client.listAccounts();
        this.seen = new Map(actual.map(a => [a.id, a]));
      }
    } catch (err) {
      error = this.describe(err);
      this.log(err instanceof CloudcraftError && err.details.deadline ? 'warn' : 'error', 'run stopped', { error });
    }
    return this.finish(trigger, desired, this.seen.size > 0 || actual.length === 0 ? [...this.seen.values()] : actual, complete, error, depth);
  }

  /** Carries out actions in order until one stops the run (the key refused, the deadline). */
  private async execute(actions: Action[], actual: CloudcraftAccount[]): Promise<{ actual: CloudcraftAccount[]; ambiguous: number }> {
    const client = this.client!;
    let ambiguous = 0;
    this.seen = new Map(actual.map(a => [a.id, a]));
    const list = this.seen;
    const remainingDeregistrations = new Map<string, number>();
    for (const a of actions) if (a.kind === 'deregister') remainingDeregistrations.set(a.accountId, (remainingDeregistrations.get(a.accountId) ?? 0) + 1);
    for (const action of actions) {
      const entry = 'accountId' in action ? this.ledger.entries.get(action.accountId) : undefined;
      switch (action.kind) {
        case 'wait':
          if (action.conflict) this.failures.set(action.accountId, action.why);
          this.log(action.conflict ? 'warn' : 'info', 'account waits', { accountId: action.accountId, why: action.why });
          break;
        case 'claim':
          await this.write({ accountId: action.account.accountId, roleArn: action.account.roleArn, state: 'registered', cloudcraftId: action.cloudcraftId, postedAt: action.postedAt, lastPostAt: action.lastPostAt });
          this.log('info', 'confirmed an earlier registration', { accountId: action.account.accountId, cloudcraftId: action.cloudcraftId });
          break;
        case 'adopt':
          await this.write({ accountId: action.account.accountId, roleArn: action.account.roleArn, state: 'registered', cloudcraftId: action.existing.id, adopted: true });
          this.log('warn', 'adopted an existing registration of the role', { accountId: action.account.accountId, cloudcraftId: action.existing.id, previousName: action.existing.name });
          break;
        case 'mark-gone':
          if (entry) await this.write({ ...entry, goneSince: this.deps.clock.now() });
          this.log('info', 'no longer desired: deregistered after the grace period', { accountId: action.accountId });
          break;
        case 'unmark-gone':
          if (entry) await this.write({ ...entry, goneSince: undefined });
          break;
        case 'give-up':
          await this.write(afterRefusal(action.previous, action.account, this.deps.clock.now(), action.why));
          this.failures.set(action.account.accountId, action.why);
          this.log('warn', 'registration refused', { accountId: action.account.accountId, reason: action.why });
          break;
        case 'forget':
          await this.forget(action.accountId);
          this.log('info', 'ledger entry dropped', { accountId: action.accountId, why: action.why });
          break;
        case 'register': {
          const { account } = action;
          const now = this.deps.clock.now();
          const postedAt = action.previous?.state === 'posting' ? action.previous.postedAt : undefined;
          // Write-ahead: a POST whose answer is lost is recognised by the next plan (registrations of the role made
          // from the first POST to shortly after the last one).
          const attempts = postedAt !== undefined ? (action.previous?.attempts ?? 1) + 1 : 1;
          await this.write({ accountId: account.accountId, roleArn: account.roleArn, state: 'posting', postedAt: postedAt ?? now, lastPostAt: now, attempts });
          try {
            const region = this.config.verificationRegion;
            const result = await client.register(registrationBody(account, region), { roleArn: account.roleArn, region });
            if (result.kind === 'registered') {
              await this.write({ ...this.ledger.entries.get(account.accountId)!, state: 'registered', cloudcraftId: result.account.id });
              list.set(result.account.id, result.account);
              this.failures.delete(account.accountId);
              this.log('info', 'registered', { accountId: account.accountId, cloudcraftId: result.account.id, name: account.name });
            } else {
              ambiguous++;
              this.log('warn', 'registration unconfirmed: looked for again later', { accountId: account.accountId, why: result.reason });
            }
          } catch (err) {
            if (!(err instanceof CloudcraftError) || err.details.deadline || isKeyProblem(err)) throw err;
            // The entry before this POST (`entry` is only for actions that name an accountId): its failures count up
            // the back-off, and an earlier unconfirmed POST's window is kept.
            await this.write(afterRefusal(action.previous, account, this.deps.clock.now(), err.reason));
            this.failures.set(account.accountId, err.reason);
            this.log('warn', 'registration refused', { accountId: account.accountId, reason: err.reason });
          }
          break;
        }
        case 'update': {
          try {
            const body = registrationBody(action.account, undefined, list.get(action.cloudcraftId));
            const result = await client.update(action.cloudcraftId, body, { roleArn: action.account.roleArn });
            if (result === 'updated') {
              const current = this.ledger.entries.get(action.account.accountId);
              if (current && current.roleArn !== action.account.roleArn) await this.write({ ...current, roleArn: action.account.roleArn });
              const before = list.get(action.cloudcraftId);
              if (before) list.set(before.id, { ...before, ...registrationBody(action.account) } as CloudcraftAccount);
              this.log('info', 'updated', { accountId: action.account.accountId, cloudcraftId: action.cloudcraftId, changes: action.changes });
            } else {
              list.delete(action.cloudcraftId);
            }
          } catch (err) {
            if (!(err instanceof CloudcraftError) || err.details.deadline || isKeyProblem(err)) throw err;
            this.failures.set(action.account.accountId, err.reason);
            this.log('warn', 'update refused', { accountId: action.account.accountId, reason: err.reason });
          }
          break;
        }
        case 'remove-extra':
        case 'deregister': {
          await client.remove(action.cloudcraftId);
          list.delete(action.cloudcraftId);
          this.removed++;
          this.log('info', action.kind === 'deregister' ? 'deregistered' : 'removed a duplicate this registrar made', { accountId: action.accountId, cloudcraftId: action.cloudcraftId });
          if (action.kind === 'deregister') {
            const left = (remainingDeregistrations.get(action.accountId) ?? 1) - 1;
            remainingDeregistrations.set(action.accountId, left);
            if (left === 0) await this.forget(action.accountId);
          }
          break;
        }
      }
    }
    return { actual: [...list.values()], ambiguous };
  }

  /** The custom resource's Delete: removes every registration the ledger owns (not the others). */
  async removeAll(): Promise<RunSummary> {
    let error: string | undefined;
    let complete = false;
    if (!(await this.readLedger())) return emptySummary('delete', { error: 'cannot read the ledger table' });
    try {
      await this.put(META_DELETED, { at: this.deps.clock.now() });
    } catch (err) {
      this.log('warn', 'cannot record the delete', { error: (err as Error)?.name });
    }
    try {
      const client = await this.connect();
      for (let round = 1; ; round++) {
        const actual = await client.listAccounts();
        const externalId = await this.externalId(client);
        const actions = planRemoveAll([...this.ledger.entries.values()], actual, externalId, this.deps.clock.now());
        await this.execute(actions, actual);
        complete = this.ledger.entries.size === 0;
        // An unconfirmed POST may still make its registration: look again a few times while there is time.
        if (complete || !actions.some(a => a.kind === 'wait') || round >= 3 || client.remaining() < SETTLE_MS + 60_000) break;
        this.log('info', WAITING, { ms: SETTLE_MS });
        await client.sleep(SETTLE_MS);
      }
    } catch (err) {
      error = this.describe(err);
      this.log('error', 'removal stopped', { error });
    }
    await this.savePacer();
    return { ...emptySummary('delete', {}), removed: this.removed, calls: this.client?.calls ?? 0, rejected429: this.client?.rejected ?? 0, complete, error };
  }

  private describe(err: unknown): string {
    if (err instanceof CloudcraftError) return err.reason;
    const e = err as { name?: string; message?: string };
    return `${e?.name ?? 'Error'}: ${String(e?.message ?? err).slice(0, 300)}`;
  }

  private async savePacer(): Promise<void> {
    if (!this.pacer) return;
    try {
      await this.put(META_PACER, this.pacer.snapshot());
    } catch (err) {
      this.log('warn', 'cannot save the pacer state', { error: (err as Error)?.name });
    }
  }

  /** `desired` is undefined when the run could not learn it: then no account figure is published (the alarm sees missing data). */
  private async finish(trigger: string, desired: DesiredAccount[] | undefined, actual: CloudcraftAccount[], complete: boolean,
    error: string | undefined, depth: number): Promise<RunSummary> {
    await this.savePacer();
    const present = new Set(actual.map(a => a.id));
    let registered = 0;
    let failed = 0;
    for (const account of desired ?? []) {
      const entry = this.ledger.entries.get(account.accountId);
      if (entry?.state === 'registered' && entry.cloudcraftId && present.has(entry.cloudcraftId)) registered++;
      else if (entry?.state === 'failed' || this.failures.has(account.accountId)) failed++;
    }
    const summary: RunSummary = {
      trigger,
      desired: desired?.length ?? 0,
      registered,
      failed,
      pending: (desired?.length ?? 0) - registered - failed,
      removed: this.removed,
      calls: this.client?.calls ?? 0,
      rejected429: this.client?.rejected ?? 0,
      complete,
      ...(error ? { error } : {}),
    };
    this.emitMetrics(summary, desired !== undefined);
    this.log(error ? 'warn' : 'info', 'run summary', { ...summary });
    const unfinished = !complete && (summary.pending > 0 || !!error) && !(error && REFUSED.test(error));
    if (unfinished && this.functionName && depth < MAX_CONTINUATIONS && this.client && this.client.remaining() < 60_000) {
      try {
        await this.deps.io.invokeAsync(this.functionName, { cdkCloudcraft: 'continue', depth: depth + 1 });
        this.log('info', 'continues in a new invocation', { depth: depth + 1 });
      } catch (err) {
        this.log('warn', 'cannot continue in a new invocation', { error: (err as Error)?.name });
      }
    }
    return summary;
  }

  /** One CloudWatch Embedded Metric Format line: CloudWatch Logs turns it into metrics (no API call, no permission). */
  private emitMetrics(summary: RunSummary, accountsKnown: boolean): void {
    const metrics = {
      ...(accountsKnown ? {
        AccountsDesired: summary.desired,
        AccountsRegistered: summary.registered,
        AccountsPending: summary.pending,
        AccountsFailed: summary.failed,
        AccountsUnregistered: summary.desired - summary.registered,
      } : {}),
      RegistrationsRemoved: summary.removed,
      CloudcraftCalls: summary.calls,
      CloudcraftRateLimited: summary.rejected429,
    };
    this.deps.sink(JSON.stringify({
      _aws: {
        Timestamp: this.deps.clock.now(),
        CloudWatchMetrics: [{
          Namespace: this.config.metricsNamespace,
          Dimensions: [['StackSetName']],
          Metrics: Object.keys(metrics).map(name => ({ Name: name, Unit: 'Count' })),
        }],
      },
      StackSetName: this.config.stackSetName,
      ...metrics,
    }));
  }
}

/** A refusal of the key itself (401, 403): every further call would fail the same way, so the run stops. */
function isKeyProblem(err: CloudcraftError): boolean {
  const outcome = err.details.outcome;
  return outcome?.kind === 'response' && (outcome.status === 401 || outcome.status === 403);
}
