/**
 * The Organization registrar: the one writer that keeps Cloudcraft in step with an AWS Organization. It runs in the
 * management account (or the StackSets delegated administrator) on a schedule, on the StackSet's stack-instance
 * events, and as the custom resources of its own stack (Create/Update: record the settings and reconcile; Delete:
 * deregister everything it owns). The API key never leaves this account.
 *
 * One writer without reserved concurrency: a lease in the ledger table (lease.ts). An invocation that finds it held
 * asks the holder for one more run and ends at once, so CloudFormation's events are answered within seconds even
 * while a run is in progress; the stack's Delete marks the ledger, and the run in progress lets go at its next
 * request. Time, HTTP and AWS I/O are injected (createRegistrar), so tests run it on virtual time.
 *
 * The parts: trigger.ts (what the event asks, pure), config.ts and contract.ts (what the construct sends), ledger.ts
 * and lease.ts (state, and the one writer), desired.ts (what the Organization wants), reconcile.ts (the plan, pure),
 * execute.ts (carrying it out), run.ts (one invocation's work), metrics.ts.
 */
import { sdkIo } from './aws';
import { ConfigError, parseDeployment, parseEnvironment } from './config';
import { ENVIRONMENT_VARIABLE, RegistrarEnvironment } from './contract';
import { emptySummary, RunSummary } from './metrics';
import { isFinal, Invocation, RunDeps } from './run';
import { Continuation, covered, deleteWindowEnd, requestTime, Trigger, triggerOf } from './trigger';
import { sdkSecretReader } from '../../runtime/api-key';
import { systemClock } from '../../runtime/clock';
import { Log } from '../../runtime/cloudcraft';
import { fetchTransport } from '../../runtime/http';
import { makeLog } from '../../runtime/log';
import { Redactor } from '../../runtime/redact';
import { ANSWER_BUDGET_MS, answer, answerBody, CfnEvent, CfnResult } from '../../runtime/respond';

export type { RunSummary } from './metrics';

export interface RegistrarDeps extends RunDeps {
  /** Read from CDK_CLOUDCRAFT_REGISTRAR when not given. */
  readonly environment?: RegistrarEnvironment;
}

export interface LambdaContext {
  readonly functionName?: string;
  readonly awsRequestId?: string;
  getRemainingTimeInMillis(): number;
}

/** Time kept back from the function's deadline: the answer to CloudFormation and the last ledger writes. */
const RESERVE_MS = ANSWER_BUDGET_MS + 10_000;
/**
 * Continuations of a run that stopped at its deadline after making progress (15 minutes each): a day of work, more
 * than 10,000 accounts need at 20 requests per minute. Beyond it the schedule takes the work up.
 */
export const MAX_CONTINUATIONS = 96;

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
  return (event: unknown, context: LambdaContext): Promise<RunSummary> => new Handling(deps, triggerOf(event), context).handle();
}

export const handler = createRegistrar();

/** One invocation: what its trigger asks, and what comes after (an answer to CloudFormation, a continuation). */
class Handling {
  private readonly redactor = new Redactor();
  private readonly log: Log;
  private readonly started: number;
  /** The function's end, less what an answer needs. */
  private readonly end: number;
  private readonly cfn?: CfnEvent;
  private answered = false;

  constructor(private readonly deps: RegistrarDeps, private readonly trigger: Trigger, private readonly context: LambdaContext) {
    this.log = makeLog(deps.sink, this.redactor, { component: 'registrar', trigger: trigger.kind });
    this.started = deps.clock.now();
    this.end = this.started + context.getRemainingTimeInMillis() - 500;
    this.cfn = 'event' in trigger ? trigger.event : undefined;
  }

  /** Never throws: Lambda's retry would deliver the same event again (a deployment's settings over newer ones). */
  async handle(): Promise<RunSummary> {
    try {
      return await this.dispatch();
    } catch (err) {
      const reason = `cdk-cloudcraft registrar: ${(err as Error)?.name ?? 'Error'}: ${String((err as Error)?.message ?? err).slice(0, 300)}`;
      this.log('error', 'invocation failed', { error: reason });
      // A CloudFormation event not answered yet is answered (a Delete never fails).
      if (this.cfn && !this.answered) {
        await this.respond(this.cfn, { status: this.cfn.RequestType === 'Delete' ? 'SUCCESS' : 'FAILED', physicalId: this.cfn.PhysicalResourceId ?? 'cloudcraft-registrar', reason });
      }
      return emptySummary(this.trigger.kind, { error: reason });
    }
  }

  private async dispatch(): Promise<RunSummary> {
    const { trigger, cfn } = this;
    let env: RegistrarEnvironment;
    try {
      env = this.deps.environment ?? parseEnvironment(process.env[ENVIRONMENT_VARIABLE]);
    } catch (err) {
      return this.refuse(`cdk-cloudcraft registrar: cannot read its configuration (${(err as Error).message}).`);
    }
    if (cfn && cfn.StackId !== env.stackId) {
      // Only its own stack deploys it: an event of another stack is an accident, or someone's forgery.
      this.log('error', 'event of another stack refused', { stackId: cfn.StackId, requestType: cfn.RequestType });
      return this.refuse(`This registrar belongs to the stack ${env.stackId}, not to ${String(cfn.StackId)}: the event is refused.`);
    }
    // A stack Delete works within CloudFormation's window, not only the function's.
    const until = trigger.kind === 'delete' ? trigger.until ?? deleteWindowEnd(trigger.event, this.started) : Infinity;
    const deadlineAt = Math.min(this.end + 500 - RESERVE_MS, until - RESERVE_MS);
    const owner = `${this.context.awsRequestId ?? 'local'}:${Math.floor(this.deps.random() * 1e9).toString(36)}`;
    const invocation = new Invocation(this.deps, env, this.log, this.redactor, deadlineAt, owner);
    switch (trigger.kind) {
      case 'iam-parameters':
        return this.iamParameters(trigger.event, invocation);
      case 'deploy':
        return this.deploy(trigger.event, env, invocation);
      case 'delete':
        return this.remove(trigger, env, invocation, until);
      case 'instance-event': {
        const run = await invocation.ledger.runRecord().catch(() => ({ startedAt: undefined }));
        if (covered(run.startedAt, trigger.time)) {
          this.log('info', 'skipped: covered by a later run');
          return emptySummary(trigger.kind, { skipped: 'covered by a later run' });
        }
        return this.reconcile(invocation, false, 0);
      }
      case 'continue':
        return this.reconcile(invocation, trigger.force, trigger.depth);
      case 'schedule':
        return this.reconcile(invocation, false, 0);
    }
  }

  /** Nothing done: the reason logged, and a CloudFormation event answered FAILED with it. */
  private async refuse(reason: string): Promise<RunSummary> {
    this.log('error', reason);
    if (this.cfn) await this.respond(this.cfn, { status: 'FAILED', physicalId: this.cfn.PhysicalResourceId ?? 'cloudcraft-registrar', reason });
    return emptySummary(this.trigger.kind, { error: reason });
  }

  private async respond(event: CfnEvent, result: CfnResult): Promise<void> {
    this.answered = true;
    const ok = await answer(event, answerBody(event, result, t => this.redactor.redact(t)), this.deps.clock, this.deps.transport,
      (attempt, why) => this.log('warn', 'answer to CloudFormation failed', { attempt, why }), this.end);
    this.log(ok ? 'info' : 'error', ok ? 'answered CloudFormation' : 'could not answer CloudFormation', { status: result.status, reason: result.reason });
  }

  /** The one way the registrar continues: an asynchronous invocation of itself. */
  private async continueIn(payload: Continuation): Promise<boolean> {
    const functionName = this.context.functionName;
    if (!functionName) return false;
    try {
      await this.deps.io.invokeAsync(functionName, payload);
      this.log('info', 'continues in a new invocation', { ...payload, event: undefined });
      return true;
    } catch (err) {
      this.log('warn', 'cannot continue in a new invocation', { error: (err as Error)?.name });
      return false;
    }
  }

  /** The IAM parameters resource: the key owner's external ID and Cloudcraft's AWS account. */
  private async iamParameters(event: CfnEvent, invocation: Invocation): Promise<RunSummary> {
    const id = 'cloudcraft-iam-parameters';
    let result: CfnResult;
    if (event.RequestType === 'Delete') {
      result = { status: 'SUCCESS', physicalId: event.PhysicalResourceId ?? id };
    } else {
      try {
        const { accountId, externalId } = await invocation.iamParameters();
        result = { status: 'SUCCESS', physicalId: id, data: { AccountId: accountId, ExternalId: externalId } };
      } catch (err) {
        result = { status: 'FAILED', physicalId: event.PhysicalResourceId ?? id, reason: (err as { reason?: string }).reason ?? String((err as Error)?.message ?? err) };
      }
    }
    await this.respond(event, result);
    return emptySummary('iam-parameters', { calls: invocation.calls, complete: result.status === 'SUCCESS' });
  }

  /** A run, and what comes after it: one more run when asked for meanwhile, or a continuation of unfinished work. */
  private async reconcile(invocation: Invocation, force: boolean, depth: number): Promise<RunSummary> {
    const { summary, rerun } = await invocation.reconcile(this.trigger.kind, force);
    const unfinished = !summary.complete && !summary.skipped && (summary.pending > 0 || summary.stop !== undefined);
    // Every invocation the registrar sends itself counts in one chain, whatever its reason: MAX_CONTINUATIONS bounds it.
    const next = depth + 1;
    if (rerun) {
      // Asked for while this run held the lease (a deployment, a stack-instance event): a new invocation, with the
      // configuration as it is now.
      if (next > MAX_CONTINUATIONS) this.log('warn', 'not run again: the limit of continuations is reached (the schedule takes it up)', { depth });
      else await this.continueIn({ cdkCloudcraft: 'continue', depth: next, force: rerun.force || force });
    } else if (unfinished && !isFinal(summary.stop)) {
      if (summary.progress === 0) {
        this.log('info', 'not continued: this run made no progress (the schedule takes it up)', { stop: summary.stop });
      } else if (next > MAX_CONTINUATIONS) {
        this.log('warn', 'not continued: the limit of continuations is reached (the schedule takes it up)', { depth });
      } else {
        await this.continueIn({ cdkCloudcraft: 'continue', depth: next, force });
      }
    }
    return summary;
  }

  /** Create or Update: the settings are recorded and CloudFormation answered before anything else. */
  private async deploy(e: CfnEvent, env: RegistrarEnvironment, invocation: Invocation): Promise<RunSummary> {
    const physicalId = physicalIdOf(env);
    let deployment;
    try {
      deployment = parseDeployment(e.ResourceProperties);
    } catch (err) {
      return this.refuse(`cdk-cloudcraft registrar: the deployment's settings are not valid (${err instanceof ConfigError ? err.message : String(err)}).`);
    }
    try {
      if ((await invocation.ledger.lease()).deletedAt !== undefined) {
        // A stale delivery after the stack's Delete: recording it would make runs register everything again.
        this.log('warn', 'deployment after the Delete: ignored');
        await this.respond(e, { status: 'SUCCESS', physicalId, reason: 'The stack deleted this registrar: nothing done.' });
        return emptySummary('deploy', { skipped: 'deleted' });
      }
      if (await invocation.ledger.recordDeployment(deployment, e.RequestId, requestTime(e)) === 'stale') {
        // The same request delivered again (Lambda's retry, CloudFormation's), or an older one late: newer settings stand.
        this.log('warn', 'a deployment request already recorded, or older than the one recorded: not recorded again', { requestId: e.RequestId });
        await this.respond(e, { status: 'SUCCESS', physicalId });
        return emptySummary('deploy', { skipped: 'request already recorded' });
      }
    } catch (err) {
      return this.refuse(`cdk-cloudcraft registrar: cannot write its ledger table ${env.ledgerTable} (${(err as Error)?.name ?? err}).`);
    }
    await this.respond(e, { status: 'SUCCESS', physicalId, data: { LedgerTable: env.ledgerTable } });
    return this.reconcile(invocation, true, 0);
  }

  /** The stack's Delete: everything the ledger owns is removed, within CloudFormation's window. */
  private async remove(t: Extract<Trigger, { kind: 'delete' }>, env: RegistrarEnvironment, invocation: Invocation, until: number): Promise<RunSummary> {
    const physicalId = physicalIdOf(env);
    if (t.event.PhysicalResourceId !== physicalId) {
      // The Delete of a replaced resource (the StackSet renamed, or the rollback of such a rename): the ledger and its
      // registrations belong to the resource that replaced it. Removing them would change every account's ID in
      // Cloudcraft, and with it every diagram that uses them.
      this.log('info', 'delete of a replaced resource: nothing removed', { physicalId: t.event.PhysicalResourceId, current: physicalId });
      const reason = `Replaced by ${physicalId}: its registrations stay in Cloudcraft, owned by the replacement.`;
      await this.respond(t.event, { status: 'SUCCESS', physicalId: t.event.PhysicalResourceId ?? physicalId, reason });
      return emptySummary('delete', { complete: true, skipped: 'replaced' });
    }
    const { summary, stop, left, spent } = await invocation.removeAll(until);
    const removed = (t.removed ?? 0) + summary.removed;
    invocation.report(summary, false);
    // Stopped before the end, having used its time: continued in a new invocation while CloudFormation's window
    // leaves time, which answers in the end.
    if (stop && !isFinal(stop.kind) && left > 0 && spent && until - this.deps.clock.now() > 5 * 60_000) {
      if (await this.continueIn({ cdkCloudcraft: 'delete', event: t.event, until, removed })) return summary;
    }
    // A Delete never fails: a FAILED answer would only leave the stack in DELETE_FAILED. What is left stays listed in
    // the ledger table, which the stack keeps (unless ledgerRemovalPolicy is DESTROY).
    const remain = `${left < 0 ? 'others' : left} remain in Cloudcraft, listed in the ledger table ${env.ledgerTable}.${stop ? ` ${stop.reason}` : ''}`;
    const reason = left === 0 ? `Removed ${removed} registrations from Cloudcraft.` : `Removed ${removed} registrations; ${remain}`;
    await this.respond(t.event, { status: 'SUCCESS', physicalId, reason });
    return summary;
  }
}

function physicalIdOf(env: RegistrarEnvironment): string {
  return `cloudcraft-registrar:${env.stackSetName}`;
}
