/**
 * One invocation's work under the lease: a reconciliation run, or the stack's Delete. Reads the desired set
 * (desired.ts), what Cloudcraft has and what the ledger owns, plans (reconcile.ts), executes (execute.ts), and
 * says how it ended; index.ts answers CloudFormation and decides about continuing.
 */
import { createHash } from 'crypto';
import { AwsIo } from './aws';
import { configOf, Deployment, RegistrarConfig } from './config';
import { RegistrarEnvironment } from './contract';
import { desiredSet, readOrganization } from './desired';
import { execute, ExecutionContext, Stop, stopOf } from './execute';
import { Lease, Ledger, LedgerState } from './ledger';
import { emptySummary, metricsLine, RunSummary } from './metrics';
import { DesiredAccount, LedgerEntry, plan, planRemoveAll, SETTLING } from './reconcile';
import { describeKeySource, readApiKey, SecretReader } from '../../runtime/api-key';
import { Clock } from '../../runtime/clock';
import { CloudcraftClient, Log } from '../../runtime/cloudcraft';
import { Transport } from '../../runtime/http';
import { SharedPacing } from '../../runtime/pacing';
import { CloudcraftAccount } from '../../runtime/policy';
import { checkPolicy, PolicyCheckResult } from '../../runtime/policy-check';
import { Redactor } from '../../runtime/redact';

export interface RunDeps {
  readonly clock: Clock;
  readonly transport: Transport;
  readonly io: AwsIo;
  readonly readSecret: SecretReader;
  readonly sink: (line: string) => void;
  readonly random: () => number;
}

/** How long an unconfirmed POST may take to show up in Cloudcraft's list. */
export const SETTLE_MS = 60_000;
/** Attempts of one Cloudcraft call: a run during an outage stops within about a minute, instead of retrying for 15. */
export const MAX_CALL_ATTEMPTS = 4;
/** Rounds of planning within one run (confirmations and settling each start one). */
const MAX_ROUNDS = 8;
/** How often a Delete looks whether the run holding the lease let go (it does at its next request). */
const LEASE_POLL_MS = 5_000;

/** Stops after which a new invocation would meet the same thing: no continuation. */
const FINAL_STOPS = new Set<Stop['kind']>(['key-refused', 'key-user-changed', 'deleted', 'lease-lost', 'list-wrong']);

export function isFinal(stop: Stop['kind'] | undefined): boolean {
  return stop !== undefined && FINAL_STOPS.has(stop);
}

export class Invocation {
  readonly ledger: Ledger;
  private client?: CloudcraftClient;
  private keyText?: string;
  /** The external ID of the key's user, once known in this invocation. */
  private currentKeyExternalId?: string;

  constructor(
    private readonly deps: RunDeps,
    readonly env: RegistrarEnvironment,
    private readonly log: Log,
    private readonly redactor: Redactor,
    /** No request is started later than this. */
    readonly deadlineAt: number,
    /** This invocation's name in the lease. */
    readonly owner: string,
  ) {
    this.ledger = new Ledger(deps.io, env.ledgerTable);
  }

  get calls(): number {
    return this.client?.calls ?? 0;
  }

  /** The Cloudcraft client, paced with every invocation of this installation; with a lease, it is kept before each request. */
  private async connect(lease?: Lease): Promise<CloudcraftClient> {
    if (this.client) return this.client;
    this.keyText = await readApiKey(this.env.apiKey, this.deps.readSecret, this.redactor);
    this.client = new CloudcraftClient({
      apiUrl: this.env.apiUrl,
      apiKey: this.keyText,
      keySource: describeKeySource(this.env.apiKey),
      clock: this.deps.clock,
      transport: this.deps.transport,
      pacing: new SharedPacing(this.ledger.pacingStore(), this.deps.clock.now(),
        err => this.log('warn', 'the key\'s pacing record could not be read or written', { error: (err as Error)?.name })),
      log: this.log,
      random: this.deps.random,
      deadlineAt: this.deadlineAt,
      maxAttempts: MAX_CALL_ATTEMPTS,
      beforeSend: lease ? () => lease.keep() : undefined,
    });
    return this.client;
  }

  /** A digest of the key (not the key): the external ID read with it holds until the key changes. */
  private keyDigest(): string {
    return createHash('sha256').update(this.keyText ?? '').digest('hex').slice(0, 24);
  }

  /** The IAM parameters resource: the key owner's external ID and Cloudcraft's AWS account, once per deployment. */
  async iamParameters(): Promise<{ accountId: string; externalId: string }> {
    const client = await this.connect();
    const parameters = await client.iamParameters();
    // The first run need not ask again for the same key.
    try {
      await this.ledger.saveRun({ ...(await this.ledger.runRecord()), keyDigest: this.keyDigest(), keyExternalId: parameters.externalId });
    } catch (err) {
      this.log('warn', 'cannot record the external ID', { error: (err as Error)?.name });
    }
    return parameters;
  }

  /**
   * Takes the lease; a run that finds it held asks for one more run (and tries once more). A run is forced (refusal
   * back-off ignored) when its trigger says so, or when a deployment asked for one since the last run that finished.
   */
  private async takeLease(force: boolean, lastFinishedRun: number | undefined): Promise<{ lease?: Lease; skipped?: string; force: boolean }> {
    const lease = new Lease(this.ledger, this.owner, this.deps.clock, 'run');
    let taken;
    try {
      taken = await lease.take();
      if (taken.kind === 'held') {
        await lease.ask(force);
        // The holder may have let go in between, without seeing the request.
        taken = await lease.take();
      }
    } catch (err) {
      // The ledger did not answer (throttled): the request is recorded if it can be, else the schedule covers it.
      await lease.ask(force).catch(() => undefined);
      return { skipped: `the lease could not be taken (${stopOf(err).reason})`, force };
    }
    if (taken.kind === 'deleted') return { skipped: 'the stack\'s Delete started', force };
    if (taken.kind === 'held') return { skipped: 'another invocation holds the lease: it runs again when it is done', force };
    const forced = await this.ledger.requests().then(r => r.forced, () => undefined);
    return { lease, force: force || (forced !== undefined && forced.at > (lastFinishedRun ?? 0)) };
  }

  /** A reconciliation run. */
  async reconcile(trigger: string, force: boolean): Promise<{ summary: RunSummary; rerun?: { force: boolean } }> {
    const { clock } = this.deps;
    const startedAt = clock.now();
    let state: LedgerState;
    try {
      state = await this.ledger.read();
    } catch (err) {
      const stop = { kind: 'aws', reason: `cannot read the ledger table ${this.env.ledgerTable} (${stopOf(err).reason})` } as const;
      this.log('error', 'run stopped', { error: stop.reason });
      return { summary: this.report(emptySummary(trigger, { stop: stop.kind, error: stop.reason }), false) };
    }
    if (!state.deployment) {
      // The registrar's resource records each deployment; its rules exist only after its Create. A ledger without one
      // was emptied or lost: nothing can be done until the next deployment records it again.
      const reason = `The ledger table ${this.env.ledgerTable} holds no deployment (it was emptied, or restored without it): the registrar does nothing until the stack is deployed again (any update of the stack, or "cdk deploy"). Registrations it made stay in Cloudcraft, and are adopted again then.`;
      this.log('warn', 'no deployment recorded', { error: reason, emptyTable: state.empty });
      return { summary: this.report(emptySummary(trigger, { skipped: 'no deployment recorded', error: reason }), false, true) };
    }
    const taken = await this.takeLease(force, state.run.startedAt);
    if (!taken.lease) {
      this.log('info', `skipped: ${taken.skipped}`);
      return { summary: emptySummary(trigger, { skipped: taken.skipped }) };
    }
    const lease = taken.lease;
    let result: { summary: RunSummary; accountsKnown: boolean };
    try {
      // Read again under the lease: the previous holder may have written since.
      const current = await this.ledger.read();
      result = await this.reconcileHeld(trigger, taken.force, current, current.deployment ?? state.deployment, startedAt, lease);
    } catch (err) {
      const stop = stopOf(err);
      this.log('error', 'run stopped', { stop: stop.kind, error: stop.reason });
      result = { summary: emptySummary(trigger, { stop: stop.kind, error: stop.reason }), accountsKnown: false };
    }
    const after = await lease.letGo();
    return { summary: this.report(result.summary, result.accountsKnown), rerun: after.rerun ? { force: after.force } : undefined };
  }

  private async reconcileHeld(trigger: string, force: boolean, state: LedgerState, deployment: Deployment, startedAt: number, lease: Lease) {
    const { clock, io } = this.deps;
    const config: RegistrarConfig = configOf(this.env, deployment);
    const entries = new Map(state.entries);
    const seen = new Map<string, CloudcraftAccount>();
    const failures = new Map<string, string>();
    let desired: DesiredAccount[] | undefined;
    let failedInstances = 0;
    let stop: Stop | undefined;
    let problems: string[] = [];
    let complete = false;
    let progress = 0;
    let removed = 0;
    try {
      const view = await readOrganization(io, config);
      const set = desiredSet(config, view, await io.stackInstances(config.stackSetName, config.callAs, config.homeRegion));
      desired = set.desired;
      problems = set.problems;
      failedInstances = set.failedInstances.length;
      for (const problem of set.problems) this.log('warn', 'not everything could be read: nothing is deregistered in this run', { error: problem });
      for (const f of set.failedInstances) this.log('warn', 'stack instance failed: its role may not exist', { accountId: f.accountId, reason: f.reason });

      const client = await this.connect(lease);
      const externalId = await this.keyExternalId(client, state, deployment);
      if (externalId.stop) {
        stop = externalId.stop;
        for (const d of desired) {
          failures.set(d.accountId, stop.reason);
          this.log('warn', 'account cannot be registered with this key', { accountId: d.accountId, reason: stop.reason });
        }
      } else {
        for (const a of await client.listAccounts()) seen.set(a.id, a);
        const confirmedGone = new Set<string>();
        const ctx: ExecutionContext = {
          client,
          ledger: this.ledger,
          entries,
          seen,
          failures,
          clock,
          log: this.log,
          externalId: externalId.value,
          verificationRegion: config.verificationRegion,
          forbidden: { count: 0 },
        };
        for (let round = 1, settled = 0; round <= MAX_ROUNDS; round++) {
          const actions = plan({
            desired,
            keep: set.keep,
            actual: [...seen.values()],
            ledger: [...entries.values()],
            now: clock.now(),
            externalId: externalId.value,
            graceMs: config.graceMs,
            settleMs: SETTLE_MS,
            force,
            confirmedGone,
            complete: set.complete,
            runStartedAt: startedAt,
          });
          const outcome = await execute(actions, ctx);
          progress += outcome.progress;
          removed += outcome.removed;
          stop = outcome.stop;
          if (stop) break;
          if (outcome.confirmedGone.length > 0) {
            for (const id of outcome.confirmedGone) confirmedGone.add(id);
            continue;
          }
          const settling = actions.some(a => a.kind === 'wait' && a.why === SETTLING) || outcome.ambiguous > 0;
          if (!settling || ++settled >= 3 || client.remaining() < SETTLE_MS + 60_000) {
            complete = !settling;
            break;
          }
          this.log('info', 'waiting for unconfirmed registrations', { ms: SETTLE_MS });
          await client.sleep(SETTLE_MS);
          seen.clear();
          for (const a of await client.listAccounts()) seen.set(a.id, a);
        }
      }
    } catch (err) {
      stop = stopOf(err);
    }
    if (stop) this.log(stop.kind === 'deadline' ? 'warn' : 'error', 'run stopped', { stop: stop.kind, error: stop.reason });
    // Once a day, after the accounts (registration comes first), by a run that was not stopped.
    const policy = config.policyCheck && !stop ? await this.checkPolicy(lease) : undefined;
    // Only a run that finished covers the stack-instance events sent before it started; the key's external ID is kept.
    if (complete && !stop) {
      await this.ledger.saveRun({ startedAt, keyDigest: this.keyDigest(), keyExternalId: this.currentKeyExternalId })
        .catch(err => this.log('warn', 'cannot record the run', { error: (err as Error)?.name }));
    }
    const error = [stop?.reason, ...problems].filter(e => e).join(' ') || undefined;
    return {
      summary: {
        ...this.summary(trigger, { desired, entries, seen, failures }, { failedInstances, progress, removed, complete, stop, error }),
        ...(policy?.checked ? { policy: policy.metrics } : {}),
      },
      // A desired set missing a target is not a figure to publish: the alarm sees missing data.
      accountsKnown: desired !== undefined && problems.length === 0,
    };
  }

  /** The daily check of Cloudcraft's minimal policy (runtime/policy-check.ts), its state in the ledger. Never stops the run. */
  private async checkPolicy(lease: Lease): Promise<PolicyCheckResult | undefined> {
    try {
      const client = await this.connect(lease);
      return await checkPolicy(client, {
        readState: () => this.ledger.policyState(),
        writeState: state => this.ledger.savePolicyState(state),
        putEvent: (detailType, detail) => this.deps.io.putEvent(detailType, detail),
      }, this.log, () => this.deps.clock.now());
    } catch (err) {
      this.log('warn', 'the check of Cloudcraft\'s minimal policy could not be done: a later run tries again', { error: stopOf(err).reason });
      return undefined;
    }
  }

  /**
   * The external ID of the key's user, read again only when the key changed (by its digest). When it is not the one
   * the member roles trust (recorded by the deployment), no account can be registered with this key: the run stops.
   */
  private async keyExternalId(client: CloudcraftClient, state: LedgerState, deployment: Deployment): Promise<{ value?: string; stop?: Stop }> {
    const digest = this.keyDigest();
    let value = state.run.keyDigest === digest ? state.run.keyExternalId : undefined;
    if (value === undefined) {
      value = (await client.iamParameters()).externalId;
      // Kept at once: a run that does not finish must not make the next one ask again.
      await this.ledger.saveRun({ ...state.run, keyDigest: digest, keyExternalId: value })
        .catch(err => this.log('warn', 'cannot record the external ID', { error: (err as Error)?.name }));
    }
    this.currentKeyExternalId = value;
    if (deployment.externalId && value !== deployment.externalId) {
      return {
        stop: {
          kind: 'key-user-changed',
          reason: `The API key in ${describeKeySource(this.env.apiKey)} belongs to another Cloudcraft user (external ID ${value}) than the one the member roles trust (${deployment.externalId}): no account can be registered or kept with it. Put the previous key back, or deploy the stack with externalId: '${value}' (the member roles then trust the new user, and the registrations move to it): the same secret holding another key changes nothing in the template, so a deployment alone would not read it.`,
        },
      };
    }
    return { value };
  }

  /** What a run did: each desired account registered (its owned registration seen), failed, or pending. */
  private summary(trigger: string,
    state: { desired?: DesiredAccount[]; entries: Map<string, LedgerEntry>; seen: Map<string, CloudcraftAccount>; failures: Map<string, string> },
    run: { failedInstances: number; progress: number; removed: number; complete: boolean; stop?: Stop; error?: string }): RunSummary {
    const { desired, entries, seen, failures } = state;
    const { failedInstances, progress, removed, complete, stop, error } = run;
    let registered = 0;
    let failed = 0;
    for (const account of desired ?? []) {
      const entry = entries.get(account.accountId);
      if (failures.has(account.accountId) || (entry?.state === 'failed' && !(entry.cloudcraftId && seen.has(entry.cloudcraftId)))) failed++;
      else if (entry?.state === 'registered' && entry.cloudcraftId && seen.has(entry.cloudcraftId)) registered++;
    }
    return {
      ...emptySummary(trigger),
      desired: desired?.length ?? 0,
      registered,
      failed,
      pending: (desired?.length ?? 0) - registered - failed,
      removed,
      failedInstances,
      progress,
      calls: this.calls,
      rejected429: this.client?.rejected ?? 0,
      complete,
      ...(stop ? { stop: stop.kind } : {}),
      ...(error ? { error } : {}),
    };
  }

  /** Logs the summary and its metrics line. */
  report(summary: RunSummary, accountsKnown: boolean, ledgerMissing = false): RunSummary {
    const context = { namespace: this.env.metricsNamespace, stackSetName: this.env.stackSetName, now: this.deps.clock.now() };
    this.deps.sink(metricsLine(summary, context, { accountsKnown, ledgerMissing }));
    this.log(summary.error ? 'warn' : 'info', 'run summary', { ...summary });
    return summary;
  }

  /**
   * The stack's Delete: marks the ledger (runs stop at their next request and do nothing after), takes the lease
   * (waiting, within `until`, for the run that holds it to let go), and removes every registration the ledger owns.
   */
  async removeAll(until: number): Promise<{ summary: RunSummary; stop?: Stop; left: number; spent: boolean }> {
    const { clock } = this.deps;
    const started = clock.now();
    const lease = new Lease(this.ledger, this.owner, clock, 'delete');
    // Written by every invocation of the Delete (it is idempotent), and tried again while it waits for the lease:
    // without it, runs would go on taking the lease.
    let marked = false;
    const mark = async () => {
      if (marked) return;
      try {
        await lease.markDeleted();
        marked = true;
      } catch (err) {
        this.log('warn', 'cannot record the Delete yet', { error: (err as Error)?.name });
      }
    };
    let stop: Stop | undefined;
    let removed = 0;
    let left = 0;
    try {
      for (;;) {
        await mark();
        const taken = await lease.take().catch(err => ({ kind: 'error' as const, err }));
        if (taken.kind === 'taken') break;
        if (taken.kind !== 'deleted' && clock.now() + LEASE_POLL_MS < Math.min(until, this.deadlineAt)) {
          this.log('info', 'waiting for the run in progress to stop', taken.kind === 'held' ? { until: new Date(taken.expiresAt).toISOString() } : {});
          await clock.sleep(LEASE_POLL_MS);
          continue;
        }
        throw Object.assign(new Error('the run in progress did not let go of the lease in time'), { name: 'LeaseHeld' });
      }
      const state = await this.ledger.read();
      const entries = new Map(state.entries);
      const client = await this.connect(lease);
      const externalId = (state.run.keyDigest === this.keyDigest() ? state.run.keyExternalId : undefined) ?? state.deployment?.externalId;
      const ctx: ExecutionContext = {
        client, ledger: this.ledger, entries, seen: new Map(), failures: new Map(), clock, log: this.log, externalId, forbidden: { count: 0 },
      };
      // The list is read for the registrations an unconfirmed POST may have made; owned IDs are removed whatever it says.
      const removalRound = async () => {
        try {
          const actual = await client.listAccounts();
          for (const a of actual) ctx.seen.set(a.id, a);
          const actions = planRemoveAll([...entries.values()], actual, externalId, clock.now());
          return { actions, ...(await execute(actions, ctx)) };
        } catch (err) {
          return { actions: [], removed: 0, stop: stopOf(err) };
        }
      };
      for (let round = 1; ; round++) {
        const outcome = await removalRound();
        removed += outcome.removed;
        stop = outcome.stop;
        if (entries.size === 0) break;
        if (stop) {
          // Cloudcraft down or rate-limiting: tried again while the invocation has time (CloudFormation's window bounds it).
          if ((stop.kind !== 'unavailable' && stop.kind !== 'rate-limited') || client.remaining() < SETTLE_MS + 20_000) break;
          this.log('warn', 'removal paused: Cloudcraft is failing', { stop: stop.kind, error: stop.reason, ms: SETTLE_MS });
          await client.sleep(SETTLE_MS);
          continue;
        }
        // An unconfirmed POST may still make its registration: look again a few times while there is time.
        if (!outcome.actions.some(a => a.kind === 'wait') || round >= 3 || client.remaining() < SETTLE_MS + 60_000) break;
        this.log('info', 'waiting for unconfirmed registrations', { ms: SETTLE_MS });
        await client.sleep(SETTLE_MS);
      }
      left = entries.size;
    } catch (err) {
      stop = stopOf(err);
      left = (await this.ledger.read().then(s => s.entries.size, () => -1));
    } finally {
      await lease.letGo();
    }
    if (stop) this.log(stop.kind === 'deadline' ? 'warn' : 'error', 'removal stopped', { stop: stop.kind, error: stop.reason });
    const summary = { ...emptySummary('delete'), removed, calls: this.calls, rejected429: this.client?.rejected ?? 0, complete: !stop && left === 0, ...(stop ? { stop: stop.kind, error: stop.reason } : {}) };
    // Whether this invocation used its time (a continuation may then do better), as opposed to failing at once.
    const spent = removed > 0 || clock.now() - started >= (this.deadlineAt - started) / 2;
    return { summary, stop, left, spent };
  }
}
