/**
 * The Cloudcraft custom-resource handler: one function per stack serves every Cloudcraft resource in it.
 * Node.js 24, async, no dependencies but Node and the AWS SDK v3 of the Lambda runtime. Bundled and minified at
 * build time and inlined in the template (the bundle:handler task of .projenrc.ts; handler-function.ts inlines it).
 *
 * It answers CloudFormation itself, always before the function's deadline. Decisions are in decide.ts (pure);
 * this file sequences the I/O.
 */
import { AccountAliasError, readAccountAlias } from './account-alias';
import { ApiKeyError, describeKeySource, readApiKey } from './api-key';
import {
  accountIdOfRole, accountNameFor, needsAlias,
  CallOutcome, CloudcraftAccount, desiredBody, explainFailure, IAM_PARAMETERS_PHYSICAL_ID, matchesDesired, MIN_CALL_MS,
  Operation, physicalIdOf, planDelete, planUpdate, Registration, registrationsOfRole, retryDecision, truncate,
  UNREGISTERED_PHYSICAL_ID,
} from './decide';
import { callApi, putResponse } from './http';
import { CloudcraftProps, parseProps, PropertyError, RegistrationProps } from './properties';

export interface CloudFormationEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly ResponseURL: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly ResourceType: string;
  readonly LogicalResourceId: string;
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties: Record<string, unknown>;
  readonly OldResourceProperties?: Record<string, unknown>;
}

export interface LambdaContext {
  getRemainingTimeInMillis(): number;
}

interface Result {
  readonly status: 'SUCCESS' | 'FAILED';
  readonly physicalId: string;
  readonly reason?: string;
  readonly data?: Record<string, string>;
}

/** Time kept back from the function's deadline to answer CloudFormation (with retries). */
const RESPONSE_RESERVE_MS = 8_000;
/** Longest single Cloudcraft call. */
const CALL_TIMEOUT_MS = 15_000;
const RESPONSE_ATTEMPTS = 3;
/** Timeout of one answer PUT. */
const RESPONSE_TIMEOUT_MS = 5_000;
const MAX_REASON_CHARS = 1_000;

/**
 * Time scale for tests and simulations only (CDK_CLOUDCRAFT_TIME_SCALE, unset in Lambda): every wait, timeout and
 * deadline runs that many times faster, while the decisions keep working in real-world milliseconds.
 */
const SCALE = (() => {
  const value = Number(process.env.CDK_CLOUDCRAFT_TIME_SCALE ?? '1');
  return value > 0 && value <= 1 ? value : 1;
})();
/** Now, in unscaled milliseconds. */
const now = () => Date.now() / SCALE;
const timer = (fn: () => void, ms: number) => setTimeout(fn, Math.max(0, ms * SCALE));

class StopError extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

type Log = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

function makeLog(event: CloudFormationEvent): Log {
  const base = { requestType: event.RequestType, resourceType: event.ResourceType, logicalId: event.LogicalResourceId, requestId: event.RequestId };
  return (level, msg, fields = {}) => {
    console.log(JSON.stringify({ level, msg, ...base, ...fields }));
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new StopError('deadline'));
    const handle = timer(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(handle);
      reject(new StopError('deadline'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Calls Cloudcraft with retries, bounded by the deadline. */
class Cloudcraft {
  public calls = 0;
  /** Why the last failed attempt failed, for an answer given at the deadline. */
  public lastProblem?: string;

  constructor(
    private readonly props: CloudcraftProps,
    private readonly apiKey: string,
    private readonly deadlineAt: number,
    private readonly signal: AbortSignal,
    private readonly log: Log,
  ) {}

  /**
   * One logical call. Returns the outcome when it succeeds (2xx with JSON, or a status in `accept`); otherwise
   * retries while the policy allows, then stops the handler with a reason for CloudFormation.
   * `beforeRetry` may settle the call another way (it returns a value to stop retrying).
   */
  async request<T = unknown>(operation: Operation, method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, options: {
    body?: unknown;
    accept?: number[];
    beforeRetry?: (outcome: CallOutcome) => Promise<T | undefined>;
  } = {}): Promise<{ outcome: CallOutcome; settled?: T }> {
    const started = now();
    for (let attempt = 1; ; attempt++) {
      const remaining = this.deadlineAt - now();
      if (remaining < MIN_CALL_MS) throw new StopError(`Cloudcraft: stopped at the function's deadline before ${operation}.`);
      this.calls++;
      const outcome = await callApi({
        method,
        url: `${this.props.apiUrl}${path}`,
        apiKey: this.apiKey,
        body: options.body,
        timeoutMs: Math.min(CALL_TIMEOUT_MS, remaining - 1_000) * SCALE,
        signal: this.signal,
      });
      const status = outcome.kind === 'response' ? outcome.status : undefined;
      const ok = outcome.kind === 'response' && ((outcome.status >= 200 && outcome.status < 300 && outcome.body !== undefined)
        || (options.accept ?? []).includes(outcome.status));
      this.log(ok ? 'info' : 'warn', 'cloudcraft call', { operation, method, path, attempt, status, error: outcome.kind === 'network' ? outcome.error : undefined });
      if (ok) return { outcome };
      if (this.signal.aborted) throw new StopError('deadline');
      const decision = retryDecision(outcome, {
        operation, attempt, elapsedMs: now() - started, remainingMs: this.deadlineAt - now(), random: Math.random(),
      }, Date.now());
      this.lastProblem = explainFailure(outcome, {
        operation,
        apiUrl: this.props.apiUrl,
        keySource: describeKeySource(this.props.apiKey),
        attempts: attempt,
        roleArn: this.props.kind === 'registration' ? this.props.roleArn : undefined,
        region: this.props.kind === 'registration' ? this.props.region : undefined,
      });
      if (!decision.retry) throw new StopError(this.lastProblem);
      this.log('info', 'retrying', { operation, why: decision.why, delayMs: decision.delayMs });
      await sleep(decision.delayMs, this.signal);
      if (options.beforeRetry) {
        const settled = await options.beforeRetry(outcome);
        if (settled !== undefined) return { outcome, settled };
      }
    }
  }

  async listAccounts(): Promise<CloudcraftAccount[]> {
    const { outcome } = await this.request('list', 'GET', '/aws/account');
    const body = outcome.kind === 'response' ? outcome.body as { accounts?: unknown } : undefined;
    if (!body || !Array.isArray(body.accounts)) throw new StopError('Cloudcraft: the account list has an unexpected shape (no "accounts" array).');
    return body.accounts.filter((a): a is CloudcraftAccount => !!a && typeof (a as CloudcraftAccount).id === 'string');
  }
}

async function createRegistration(cc: Cloudcraft, props: RegistrationProps, log: Log): Promise<Registration> {
  const existing = registrationsOfRole(await cc.listAccounts(), props.roleArn);
  if (existing.length > 0) {
    const account = existing[0];
    log('info', 'adopting an existing registration of the role', { cloudcraftAccountId: account.id, duplicates: existing.length - 1 });
    if (!matchesDesired(account, props)) {
      await cc.request('update', 'PUT', `/aws/account/${encodeURIComponent(account.id)}`, { body: desiredBody(props, false) });
    }
    return { id: account.id, adopted: true };
  }
  const { outcome, settled } = await cc.request<CloudcraftAccount>('register', 'POST', '/aws/account', {
    body: desiredBody(props, true),
    // A POST that timed out, was cut, or failed with 5xx may still have registered the role: look before posting
    // again, since Cloudcraft has no idempotency key and a second POST would make a duplicate.
    beforeRetry: async (failed) => {
      const ambiguous = failed.kind === 'network' || failed.status >= 500;
      return ambiguous ? registrationsOfRole(await cc.listAccounts(), props.roleArn)[0] : undefined;
    },
  });
  const account = settled ?? (outcome.kind === 'response' ? outcome.body as CloudcraftAccount : undefined);
  if (!account || typeof account.id !== 'string') throw new StopError('Cloudcraft: the registration answer has no account id.');
  return { id: account.id, adopted: false };
}

function registrationResult(registration: Registration, props: RegistrationProps): Result {
  return {
    status: 'SUCCESS',
    physicalId: physicalIdOf(registration),
    data: { CloudcraftAccountId: registration.id, RoleArn: props.roleArn, Adopted: String(registration.adopted) },
  };
}

type Connect = () => Promise<Cloudcraft>;

/** Fills in the account name of props named by pattern (reading the alias once per invocation if needed). */
async function withName(props: RegistrationProps, alias: () => Promise<string | undefined>): Promise<RegistrationProps> {
  if (!props.naming) return props;
  const accountId = accountIdOfRole(props.roleArn);
  const value = needsAlias(props.naming, accountId) ? await alias() : undefined;
  return { ...props, accountName: accountNameFor(props.naming, accountId, value) };
}

async function handleRegistration(
  event: CloudFormationEvent, rawProps: RegistrationProps, connect: Connect, log: Log, signal: AbortSignal,
): Promise<Result> {
  const physicalId = event.PhysicalResourceId ?? UNREGISTERED_PHYSICAL_ID;
  let aliasRead: Promise<string | undefined> | undefined;
  const alias = () => (aliasRead ??= readAccountAlias(signal));
  // Delete needs no name: no alias is read for it.
  const props = event.RequestType === 'Delete' ? rawProps : await withName(rawProps, alias);
  if (event.RequestType === 'Delete') {
    const plan = planDelete(physicalId, props);
    if (plan.action === 'skip') {
      log('info', 'delete: no Cloudcraft call', { why: plan.why, physicalId });
      return { status: 'SUCCESS', physicalId };
    }
    const cc = await connect();
    const { outcome } = await cc.request('delete', 'DELETE', `/aws/account/${encodeURIComponent(plan.registration.id)}`, { accept: [404] });
    if (outcome.kind === 'response' && outcome.status === 404) log('info', 'delete: the registration was already gone');
    return { status: 'SUCCESS', physicalId };
  }
  if (event.RequestType === 'Update') {
    let oldProps: RegistrationProps | undefined;
    try {
      const parsed = parseProps(event.ResourceType, event.OldResourceProperties);
      oldProps = parsed.kind === 'registration' ? await withName(parsed, alias) : undefined;
    } catch (err) {
      if (err instanceof AccountAliasError) throw err;
      oldProps = undefined; // an older shape we cannot read: treat every field as changed
    }
    const plan = planUpdate(physicalId, oldProps, props);
    if (plan.action === 'none') {
      log('info', 'update: no Cloudcraft call', { why: plan.why });
      return registrationResult(plan.registration, props);
    }
    const cc = await connect();
    if (plan.action === 'put') {
      const { outcome } = await cc.request('update', 'PUT', `/aws/account/${encodeURIComponent(plan.registration.id)}`, {
        body: desiredBody(props, false), accept: [404],
      });
      if (outcome.kind === 'response' && outcome.status !== 404) return registrationResult(plan.registration, props);
      log('warn', 'update: the registration is gone from Cloudcraft; registering again (new physical ID)');
    } else {
      log('info', 'update: registering anew (new physical ID)', { why: plan.why });
    }
    return registrationResult(await createRegistration(cc, props, log), props);
  }
  const cc = await connect();
  return registrationResult(await createRegistration(cc, props, log), props);
}

async function handleIamParameters(event: CloudFormationEvent, connect: Connect): Promise<Result> {
  const physicalId = IAM_PARAMETERS_PHYSICAL_ID;
  if (event.RequestType === 'Delete') return { status: 'SUCCESS', physicalId: event.PhysicalResourceId ?? physicalId };
  const cc = await connect();
  const { outcome } = await cc.request('iamParameters', 'GET', '/aws/account/iamParameters');
  const body = (outcome.kind === 'response' ? outcome.body : undefined) as { accountId?: unknown; externalId?: unknown } | undefined;
  if (typeof body?.externalId !== 'string' || typeof body?.accountId !== 'string') {
    throw new StopError('Cloudcraft: GET /aws/account/iamParameters answered without accountId and externalId.');
  }
  return { status: 'SUCCESS', physicalId, data: { ExternalId: body.externalId, AccountId: body.accountId } };
}

interface Session {
  cloudcraft?: Cloudcraft;
}

async function run(event: CloudFormationEvent, deadlineAt: number, signal: AbortSignal, log: Log, session: Session): Promise<Result> {
  let props: CloudcraftProps;
  try {
    props = parseProps(event.ResourceType, event.ResourceProperties);
  } catch (err) {
    if (err instanceof PropertyError) throw new StopError(`cdk-cloudcraft: ${err.message}.`);
    throw err;
  }
  const connect = async () => {
    let apiKey: string;
    try {
      apiKey = await readApiKey(props.apiKey, signal);
    } catch (err) {
      if (err instanceof ApiKeyError) throw new StopError(err.message);
      throw err;
    }
    session.cloudcraft = new Cloudcraft(props, apiKey, deadlineAt, signal, log);
    return session.cloudcraft;
  };
  try {
    return props.kind === 'iam-parameters'
      ? await handleIamParameters(event, connect)
      : await handleRegistration(event, props, connect, log, signal);
  } catch (err) {
    if (err instanceof AccountAliasError) throw new StopError(err.message);
    throw err;
  }
}

function failurePhysicalId(event: CloudFormationEvent): string {
  return event.PhysicalResourceId ?? UNREGISTERED_PHYSICAL_ID;
}

/** Builds the response body, kept under CloudFormation's 4 KB limit. */
function responseBody(event: CloudFormationEvent, result: Result): string {
  return JSON.stringify({
    Status: result.status,
    Reason: truncate(result.reason ?? result.status, MAX_REASON_CHARS),
    PhysicalResourceId: result.physicalId,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
    NoEcho: false,
    ...(result.data ? { Data: result.data } : {}),
  });
}

async function sendResponse(event: CloudFormationEvent, result: Result, log: Log): Promise<void> {
  const body = responseBody(event, result);
  for (let attempt = 1; attempt <= RESPONSE_ATTEMPTS; attempt++) {
    try {
      // Not scaled: the time scale compresses waits on Cloudcraft, and a local answer endpoint in a loaded
      // simulation can take longer than a scaled 5 s (100 ms at 50x) to reply.
      const status = await putResponse(event.ResponseURL, body, RESPONSE_TIMEOUT_MS);
      if (status >= 200 && status < 300) {
        log('info', 'answered CloudFormation', { status: result.status, physicalId: result.physicalId, reason: result.reason });
        return;
      }
      log('warn', 'CloudFormation response PUT failed', { attempt, httpStatus: status });
    } catch (err) {
      log('warn', 'CloudFormation response PUT failed', { attempt, error: (err as Error).message });
    }
    if (attempt < RESPONSE_ATTEMPTS) await new Promise<void>(resolve => timer(resolve, 500 * attempt));
  }
  log('error', 'could not answer CloudFormation', { status: result.status });
}

export async function handler(event: CloudFormationEvent, context: LambdaContext): Promise<void> {
  const log = makeLog(event);
  const session: Session = {};
  const deadlineAt = now() + context.getRemainingTimeInMillis() - RESPONSE_RESERVE_MS;
  const controller = new AbortController();
  let answering: Promise<void> | undefined;
  const answer = (result: Result) => {
    if (!answering) {
      controller.abort();
      answering = sendResponse(event, result, log);
    }
    return answering;
  };
  log('info', 'event', { physicalId: event.PhysicalResourceId });

  // The watchdog answers FAILED at the deadline even if some call ignores the abort signal.
  const watchdog = timer(() => {
    const last = session.cloudcraft?.lastProblem;
    void answer({
      status: 'FAILED',
      physicalId: failurePhysicalId(event),
      reason: last ? `Stopped at the function's deadline. ${last}` : 'Cloudcraft: the work did not finish before the function\'s deadline. Retry the deployment.',
    });
  }, deadlineAt - now());

  try {
    const result = await run(event, deadlineAt, controller.signal, log, session);
    await answer(result);
  } catch (err) {
    const reason = err instanceof StopError
      ? (err.reason === 'deadline' ? `Stopped at the function's deadline. ${session.cloudcraft?.lastProblem ?? ''}`.trim() : err.reason)
      : `cdk-cloudcraft: unexpected error: ${(err as Error)?.message ?? String(err)}`;
    if (!(err instanceof StopError)) log('error', 'unexpected error', { error: String((err as Error)?.stack ?? err) });
    await answer({ status: 'FAILED', physicalId: failurePhysicalId(event), reason });
  } finally {
    clearTimeout(watchdog);
  }
  await answering;
  log('info', 'done', { cloudcraftCalls: session.cloudcraft?.calls ?? 0 });
}
