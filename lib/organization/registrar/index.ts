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
import { AwsIo, sdkIo } from './aws';
import { ConfigError, parseDeployment, parseEnvironment } from './config';
import { ENVIRONMENT_VARIABLE, RegistrarEnvironment } from './contract';
import { emptySummary, RunSummary } from './metrics';
import { isFinal, Invocation, RunDeps } from './run';
import { Continuation, covered, deleteWindowEnd, Trigger, triggerOf } from './trigger';
import { SecretReader, sdkSecretReader } from '../../runtime/api-key';
import { Clock, systemClock } from '../../runtime/clock';
import { Log } from '../../runtime/cloudcraft';
import { fetchTransport, Transport } from '../../runtime/http';
import { makeLog } from '../../runtime/log';
import { Redactor } from '../../runtime/redact';
import { ANSWER_BUDGET_MS, answer, answerBody, CfnEvent, CfnResult } from '../../runtime/respond';

export type { RunSummary } from './metrics';

export interface RegistrarDeps {
  readonly clock: Clock;
  readonly transport: Transport;
  readonly io: AwsIo;
  readonly readSecret: SecretReader;
  readonly sink: (line: string) => void;
  readonly random: () => number;
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
  return async (event: unknown, context: LambdaContext): Promise<RunSummary> => {
    const redactor = new Redactor();
    const trigger = triggerOf(event);
    const log = makeLog(deps.sink, redactor, { component: 'registrar', trigger: trigger.kind });
    const now = deps.clock.now();
    const end = now + context.getRemainingTimeInMillis() - 500;
    const respond = (cfn: CfnEvent, result: CfnResult) => respondTo(deps, cfn, result, log, redactor, end);
    const cfn = 'event' in trigger ? trigger.event : undefined;

    let env: RegistrarEnvironment;
    try {
      env = deps.environment ?? parseEnvironment(process.env[ENVIRONMENT_VARIABLE]);
    } catch (err) {
      const reason = `cdk-cloudcraft registrar: cannot read its configuration (${(err as Error).message}).`;
      log('error', reason);
      if (cfn) await respond(cfn, { status: 'FAILED', physicalId: cfn.PhysicalResourceId ?? 'cloudcraft-registrar', reason });
      return emptySummary(trigger.kind, { error: reason });
    }
    if (cfn && cfn.StackId !== env.stackId) {
      // Only its own stack deploys it: an event of another stack is an accident, or someone's forgery.
      const reason = `This registrar belongs to the stack ${env.stackId}, not to ${String(cfn.StackId)}: the event is refused.`;
      log('error', 'event of another stack refused', { stackId: cfn.StackId, requestType: cfn.RequestType });
      await respond(cfn, { status: 'FAILED', physicalId: cfn.PhysicalResourceId ?? 'cloudcraft-registrar', reason });
      return emptySummary(trigger.kind, { error: reason });
    }
    const physicalId = `cloudcraft-registrar:${env.stackSetName}`;
    let deadlineAt = end + 500 - RESERVE_MS;
    // A stack Delete works within CloudFormation's window, not only the function's.
    const until = trigger.kind === 'delete' ? trigger.until ?? deleteWindowEnd(trigger.event, now) : Infinity;
    deadlineAt = Math.min(deadlineAt, until - RESERVE_MS);
    const owner = `${context.awsRequestId ?? 'local'}:${Math.floor(deps.random() * 1e9).toString(36)}`;
    const invocation = new Invocation(deps as RunDeps, env, log, redactor, deadlineAt, owner);
    const functionName = context.functionName;
    const continueIn = async (payload: Continuation): Promise<boolean> => {
      if (!functionName) return false;
      try {
        await deps.io.invokeAsync(functionName, payload);
        log('info', 'continues in a new invocation', { ...payload, event: undefined });
        return true;
      } catch (err) {
        log('warn', 'cannot continue in a new invocation', { error: (err as Error)?.name });
        return false;
      }
    };

    switch (trigger.kind) {
      case 'iam-parameters': {
        const result: CfnResult = await (async () => {
          const id = 'cloudcraft-iam-parameters';
          if (trigger.event.RequestType === 'Delete') return { status: 'SUCCESS', physicalId: trigger.event.PhysicalResourceId ?? id };
          try {
            const { accountId, externalId } = await invocation.iamParameters();
            return { status: 'SUCCESS', physicalId: id, data: { AccountId: accountId, ExternalId: externalId } };
          } catch (err) {
            return { status: 'FAILED', physicalId: trigger.event.PhysicalResourceId ?? id, reason: (err as { reason?: string }).reason ?? String((err as Error)?.message ?? err) };
          }
        })();
        await respond(trigger.event, result);
        return emptySummary('iam-parameters', { calls: invocation.calls, complete: result.status === 'SUCCESS' });
      }
      case 'deploy':
        return deploy(trigger.event);
      case 'delete':
        return remove(trigger);
      case 'instance-event': {
        const run = await invocation.ledger.runRecord().catch(() => ({ startedAt: undefined }));
        if (covered(run.startedAt, trigger.time)) {
          log('info', 'skipped: covered by a later run');
          return emptySummary(trigger.kind, { skipped: 'covered by a later run' });
        }
        return reconcile(trigger, false, 0);
      }
      case 'continue':
        return reconcile(trigger, trigger.force, trigger.depth);
      case 'schedule':
        return reconcile(trigger, false, 0);
    }

    /** A run, and what comes after it: one more run when asked for meanwhile, or a continuation of unfinished work. */
    async function reconcile(t: Trigger, force: boolean, depth: number): Promise<RunSummary> {
      const { summary, rerun } = await invocation.reconcile(t.kind, force);
      const unfinished = !summary.complete && !summary.skipped && (summary.pending > 0 || summary.stop !== undefined);
      if (rerun) {
        // Asked for while this run held the lease (a deployment, a stack-instance event): a new invocation, with the
        // configuration as it is now.
        await continueIn({ cdkCloudcraft: 'continue', depth: 0, force: rerun.force });
      } else if (unfinished && !isFinal(summary.stop)) {
        if (summary.progress === 0) {
          log('info', 'not continued: this run made no progress (the schedule takes it up)', { stop: summary.stop });
        } else if (depth >= MAX_CONTINUATIONS) {
          log('warn', 'not continued: the limit of continuations is reached (the schedule takes it up)', { depth });
        } else {
          await continueIn({ cdkCloudcraft: 'continue', depth: depth + 1, force });
        }
      }
      return summary;
    }

    /** Create or Update: the settings are recorded and CloudFormation answered before anything else. */
    async function deploy(e: CfnEvent): Promise<RunSummary> {
      let deployment;
      try {
        deployment = parseDeployment(e.ResourceProperties);
      } catch (err) {
        const reason = `cdk-cloudcraft registrar: the deployment's settings are not valid (${err instanceof ConfigError ? err.message : String(err)}).`;
        log('error', reason);
        await respond(e, { status: 'FAILED', physicalId: e.PhysicalResourceId ?? physicalId, reason });
        return emptySummary('deploy', { error: reason });
      }
      try {
        if ((await invocation.ledger.lease()).deletedAt !== undefined) {
          // A stale delivery after the stack's Delete: recording it would make runs register everything again.
          log('warn', 'deployment after the Delete: ignored');
          await respond(e, { status: 'SUCCESS', physicalId, reason: 'The stack deleted this registrar: nothing done.' });
          return emptySummary('deploy', { skipped: 'deleted' });
        }
        await invocation.ledger.recordDeployment(deployment);
      } catch (err) {
        const reason = `cdk-cloudcraft registrar: cannot write its ledger table ${env.ledgerTable} (${(err as Error)?.name ?? err}).`;
        log('error', reason);
        await respond(e, { status: 'FAILED', physicalId: e.PhysicalResourceId ?? physicalId, reason });
        return emptySummary('deploy', { error: reason });
      }
      await respond(e, { status: 'SUCCESS', physicalId, data: { LedgerTable: env.ledgerTable } });
      return reconcile(trigger, true, 0);
    }

    /** The stack's Delete: everything the ledger owns is removed, within CloudFormation's window. */
    async function remove(t: Extract<Trigger, { kind: 'delete' }>): Promise<RunSummary> {
      if (t.event.PhysicalResourceId !== physicalId) {
        // The Delete of a replaced resource (the StackSet renamed, or the rollback of such a rename): the ledger and its
        // registrations belong to the resource that replaced it. Removing them would change every account's ID in
        // Cloudcraft, and with it every diagram that uses them.
        log('info', 'delete of a replaced resource: nothing removed', { physicalId: t.event.PhysicalResourceId, current: physicalId });
        await respond(t.event, { status: 'SUCCESS', physicalId: t.event.PhysicalResourceId ?? physicalId, reason: `Replaced by ${physicalId}: its registrations stay in Cloudcraft, owned by the replacement.` });
        return emptySummary('delete', { complete: true, skipped: 'replaced' });
      }
      const { summary, stop, left, spent } = await invocation.removeAll(until, t.until === undefined);
      const removed = (t.removed ?? 0) + summary.removed;
      invocation.report(summary, false);
      // Stopped before the end, having used its time: continued in a new invocation while CloudFormation's window
      // leaves time, which answers in the end.
      if (stop && !isFinal(stop.kind) && left > 0 && spent && until - deps.clock.now() > 5 * 60_000) {
        if (await continueIn({ cdkCloudcraft: 'delete', event: t.event, until, removed })) return summary;
      }
      // A Delete never fails: a FAILED answer would only leave the stack in DELETE_FAILED. What is left stays listed in
      // the ledger table, which the stack keeps (unless ledgerRemovalPolicy is DESTROY).
      const reason = left === 0
        ? `Removed ${removed} registrations from Cloudcraft.`
        : `Removed ${removed} registrations; ${left < 0 ? 'others' : left} remain in Cloudcraft, listed in the ledger table ${env.ledgerTable}.${stop ? ` ${stop.reason}` : ''}`;
      await respond(t.event, { status: 'SUCCESS', physicalId, reason });
      return summary;
    }
  };
}

export const handler = createRegistrar();

/** Answers CloudFormation; on 5xx or network errors, tries again until `until` (the function's end). */
async function respondTo(deps: RegistrarDeps, event: CfnEvent, result: CfnResult, log: Log, redactor: Redactor, until: number): Promise<void> {
  const ok = await answer(event, answerBody(event, result, t => redactor.redact(t)), deps.clock, deps.transport,
    (attempt, why) => log('warn', 'answer to CloudFormation failed', { attempt, why }), until);
  log(ok ? 'info' : 'error', ok ? 'answered CloudFormation' : 'could not answer CloudFormation', { status: result.status, reason: result.reason });
}
