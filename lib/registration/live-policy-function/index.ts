/**
 * The live-policy function of a single-account integration whose role has `CloudcraftAccess.minimal()`: the daily
 * rule's check of Cloudcraft's minimal policy (report a change; follow mode: apply it), and, in follow mode,
 * Custom::CloudcraftLivePolicy (the role's inline policy, applied on Create and Update, removed on Delete). A function
 * of its own, apart from the registration handler: only it may change that role's inline policy, and the handler's
 * inline code stays small. Node.js 24, no dependencies but Node and the AWS SDK v3; time and I/O injected.
 *
 * Anyone who may invoke it could send it an event: the API URL must be the one fixed at synth (CDK_CLOUDCRAFT_API_URLS),
 * and the role, the parameter and the event it may touch are fixed by its IAM policy.
 */
import { applyAtDeploy, checkMetricsLine, dailyCheck, LivePolicyIo, removeAtDelete } from './apply';
import { sdkLivePolicyIo } from './aws';
import { API_URLS_VARIABLE, LIVE_POLICY_TYPE, POLICY_CHECK_EVENT, PolicyCheckEvent } from './contract';
import { LivePolicyProps, parseLivePolicyProps } from './properties';
import { SecretReader, sdkSecretReader } from '../../runtime/api-key';
import { Clock, systemClock } from '../../runtime/clock';
import { CloudcraftClient, CloudcraftError, Log } from '../../runtime/cloudcraft';
import { connectWithKey } from '../../runtime/connect';
import { fetchTransport, Transport } from '../../runtime/http';
import { makeLog } from '../../runtime/log';
import { Redactor } from '../../runtime/redact';
import { ANSWER_BUDGET_MS, answer, answerBody, CfnEvent, CfnResult, isCfnEvent } from '../../runtime/respond';
import { allowedApiUrls, PropertyError } from '../handler/properties';

export interface LivePolicyDeps {
  readonly clock: Clock;
  /** Cloudcraft, and the answer PUT to CloudFormation's ResponseURL. */
  readonly transport: Transport;
  readonly readSecret: SecretReader;
  readonly io: LivePolicyIo;
  readonly sink: (line: string) => void;
  readonly random: () => number;
  /** The API URLs the key may be sent to. @default - read from CDK_CLOUDCRAFT_API_URLS */
  readonly apiUrls?: ReadonlySet<string>;
}

export interface LambdaContext {
  getRemainingTimeInMillis(): number;
}

/** Kept back to answer CloudFormation. */
const RESERVE_MS = ANSWER_BUDGET_MS + 1_500;

export type LivePolicyHandler = (event: CfnEvent | PolicyCheckEvent, context: LambdaContext) => Promise<void>;

export function createLivePolicyHandler(partial: Partial<LivePolicyDeps> = {}): LivePolicyHandler {
  const deps: LivePolicyDeps = {
    clock: systemClock,
    transport: fetchTransport(),
    readSecret: sdkSecretReader,
    io: sdkLivePolicyIo(),
    sink: line => console.log(line),
    random: Math.random,
    ...partial,
  };
  return async (event, context) => {
    const redactor = new Redactor();
    const deadlineAt = deps.clock.now() + context.getRemainingTimeInMillis() - RESERVE_MS;
    if ((event as PolicyCheckEvent).cdkCloudcraft === POLICY_CHECK_EVENT) {
      await onPolicyCheck(deps, (event as PolicyCheckEvent), redactor, deadlineAt);
      return;
    }
    if (!isCfnEvent(event)) {
      deps.sink(JSON.stringify({ level: 'error', msg: 'the event is neither CloudFormation\'s nor the daily policy check\'s: refused, nothing done' }));
      return;
    }
    const log = makeLog(deps.sink, redactor, { requestType: event.RequestType, resourceType: event.ResourceType, requestId: event.RequestId });
    const result = await onResource(deps, event, log, redactor, deadlineAt).catch((err): CfnResult => ({
      status: 'FAILED',
      physicalId: event.PhysicalResourceId ?? 'cloudcraft-live-policy:failed',
      reason: err instanceof CloudcraftError ? err.reason : `cdk-cloudcraft: ${(err as Error)?.name ?? 'Error'}: ${String((err as Error)?.message ?? err).slice(0, 300)}`,
    }));
    const ok = await answer(event, answerBody(event, result, text => redactor.redact(text)), deps.clock, deps.transport,
      (attempt, why) => log('warn', 'answer to CloudFormation failed', { attempt, why }), deadlineAt + RESERVE_MS - 500);
    log(ok ? 'info' : 'error', ok ? 'answered CloudFormation' : 'could not answer CloudFormation', { status: result.status, reason: result.reason });
  };
}

export const handler = createLivePolicyHandler();

/** Props whose API URL is one this function may call, or the reason it is refused. */
function propsOf(deps: LivePolicyDeps, raw: Record<string, unknown> | undefined): LivePolicyProps {
  const props = parseLivePolicyProps(raw);
  const allowed = deps.apiUrls ?? allowedApiUrls(process.env[API_URLS_VARIABLE]);
  if (!allowed.has(props.apiUrl)) {
    throw new PropertyError(`ApiUrl ${props.apiUrl} is not the API this function may call (${[...allowed].join(', ') || 'none'}, fixed at synth): no request was sent`);
  }
  return props;
}

/** A client with the key; a request tried 4 times at most (one policy read: a failure waits for the next check). */
function connect(deps: LivePolicyDeps, props: LivePolicyProps, log: Log, redactor: Redactor, deadlineAt: number): Promise<CloudcraftClient> {
  return connectWithKey(props, deps, log, redactor, deadlineAt, { maxAttempts: 4 });
}

async function onResource(deps: LivePolicyDeps, event: CfnEvent, log: Log, redactor: Redactor, deadlineAt: number): Promise<CfnResult> {
  if (event.ResourceType !== LIVE_POLICY_TYPE) throw new PropertyError(`resource type ${JSON.stringify(event.ResourceType)} is not served here (${LIVE_POLICY_TYPE})`);
  let props: LivePolicyProps;
  try {
    props = propsOf(deps, event.ResourceProperties);
  } catch (err) {
    // A Delete of something this function cannot reach succeeds: nothing of it can be removed through here.
    if (event.RequestType === 'Delete') return { status: 'SUCCESS', physicalId: event.PhysicalResourceId ?? 'cloudcraft-live-policy:none', reason: String((err as Error).message) };
    throw err;
  }
  if (event.RequestType === 'Delete') return removeAtDelete(props, event.PhysicalResourceId, deps.io, log);
  return applyAtDeploy(await connect(deps, props, log, redactor, deadlineAt), props, props.partition, deps.io, log, deps.clock.now());
}

/** Never throws: the next day's check takes it up. */
async function onPolicyCheck(deps: LivePolicyDeps, event: PolicyCheckEvent, redactor: Redactor, deadlineAt: number): Promise<void> {
  const log = makeLog(deps.sink, redactor, { trigger: POLICY_CHECK_EVENT });
  try {
    const props = propsOf(deps, event.properties as unknown as Record<string, unknown>);
    const client = await connect(deps, props, log, redactor, deadlineAt);
    const result = await dailyCheck(client, props, props.partition, deps.io, log, () => deps.clock.now());
    if (result.checked) deps.sink(checkMetricsLine(result, props, deps.clock.now()));
  } catch (err) {
    log('error', 'the policy check failed: the next one tries again', { error: `${(err as Error)?.name ?? 'Error'}: ${String((err as Error)?.message ?? err).slice(0, 300)}` });
  }
}
