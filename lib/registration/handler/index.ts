/**
 * The Cloudcraft custom-resource handler: one function per stack serves every Cloudcraft resource in it.
 * Node.js 24, async, no dependencies but Node and the AWS SDK v3 of the Lambda runtime. Bundled and minified at
 * build time and inlined in the template (the bundle:handler task of .projenrc.ts; handler-function.ts inlines it).
 *
 * It answers CloudFormation itself, always before the function's deadline. Time and I/O are injected
 * (`createHandler`), so tests run it on virtual time; plans are in decide.ts (pure); requests, retries, pacing,
 * reasons and redaction are in ../../runtime (shared with the Organization registrar). This file sequences the
 * I/O: one function per event type.
 */
import { sdkAliasReader } from './account-alias';
import { API_URLS_VARIABLE, IAM_PARAMETERS_TYPE } from './contract';
import {
  accountIdOfRole, accountNameFor, afterPost, alreadyAsFound, holderOf, IAM_PARAMETERS_PHYSICAL_ID, leftoversOf, matchesDesired,
  MAX_POSTS, needsAlias, originalOf, parsePhysicalId, PENDING_SKEW_MS, pendingPhysicalId, physicalIdOf, planCreate, planDelete,
  planUpdate, Registration, restoredOf, SETTLE_MS, StackResource, UNREGISTERED_PHYSICAL_ID, wantedOf,
} from './decide';
import { allowedApiUrls, CloudcraftProps, parseProps, PropertyError, RegistrationProps } from './properties';
import { sdkStackResourcesReader } from './stack-resources';
import { SecretReader, sdkSecretReader } from '../../runtime/api-key';
import { Clock, systemClock } from '../../runtime/clock';
import { CloudcraftClient, CloudcraftError, Log } from '../../runtime/cloudcraft';
import { connectWithKey } from '../../runtime/connect';
import { fetchTransport, Transport } from '../../runtime/http';
import { makeLog } from '../../runtime/log';
import { CloudcraftAccount, truncate } from '../../runtime/policy';
import { Redactor } from '../../runtime/redact';
import { needsCurrentTeams, registrationBody } from '../../runtime/registration';
import { ANSWER_BUDGET_MS, answer, answerBody, CfnEvent, CfnResult } from '../../runtime/respond';

export interface HandlerDeps {
  readonly clock: Clock;
  /** Every HTTP call: Cloudcraft, and the answer PUT to CloudFormation's ResponseURL. */
  readonly transport: Transport;
  readonly readSecret: SecretReader;
  /** The account's IAM alias (iam:ListAccountAliases), for names built from `{alias}`. */
  readonly readAlias: (signal?: AbortSignal) => Promise<string | undefined>;
  /** The resources of the handler's stack (cloudformation:ListStackResources), read by a Delete that would remove. */
  readonly readStackResources: (stackId: string, signal?: AbortSignal) => Promise<StackResource[]>;
  /** Where log lines go (already redacted). */
  readonly sink: (line: string) => void;
  readonly random: () => number;
  /** The API URLs the key may be sent to (normalised). @default - read from CDK_CLOUDCRAFT_API_URLS at each event */
  readonly apiUrls?: ReadonlySet<string>;
}

export interface LambdaContext {
  getRemainingTimeInMillis(): number;
}

/**
 * Time kept back from the function's deadline to answer CloudFormation: every answer attempt timing out, the pauses
 * between them, and a margin. So the answer is sent even when the ResponseURL hangs twice.
 */
export const RESERVE_MS = ANSWER_BUDGET_MS + 1_500;

/** The longest `PreviousName` in an answer's Data. */
export const MAX_PREVIOUS_NAME_CHARS = 256;

/** One invocation: what it knows, shared with the answer given at the deadline. */
class Run {
  client?: CloudcraftClient;
  /** When a Create first POSTed, while a registration may exist that it has not confirmed. */
  postedSince?: number;
  /** A Create about to change a registration it adopts: its physical ID, so that a failure still lets the rollback restore it. */
  adopting?: string;
  private alias?: Promise<string | undefined>;

  constructor(
    private readonly deps: HandlerDeps,
    private readonly event: CfnEvent,
    private readonly log: Log,
    private readonly redactor: Redactor,
    private readonly deadlineAt: number,
    private readonly signal: AbortSignal,
  ) {}

  /** The physical ID of a failed answer: a failed Create that may have registered says since when (pending:<ms>). */
  failurePhysicalId(): string {
    if (this.event.RequestType !== 'Create') return this.event.PhysicalResourceId ?? UNREGISTERED_PHYSICAL_ID;
    return this.postedSince !== undefined ? pendingPhysicalId(this.postedSince) : this.adopting ?? UNREGISTERED_PHYSICAL_ID;
  }

  failure(err: unknown): CfnResult {
    let reason: string;
    if (err instanceof CloudcraftError) {
      reason = err.reason;
    } else if (err instanceof PropertyError) {
      reason = `cdk-cloudcraft: ${err.message}.`;
    } else {
      this.log('error', 'unexpected error', { error: String((err as Error)?.stack ?? err) });
      reason = `cdk-cloudcraft: unexpected error: ${(err as Error)?.message ?? String(err)}`;
    }
    const pending = this.postedSince !== undefined && this.event.RequestType === 'Create'
      ? ' A POST may have registered the role: the rollback removes what this Create registered.' : '';
    return { status: 'FAILED', physicalId: this.failurePhysicalId(), reason: `${reason}${pending}` };
  }

  atDeadline(): CfnResult {
    const problem = this.client?.lastProblem;
    return this.failure(new CloudcraftError(problem ? `Stopped at the function's deadline. ${problem}`
      : 'Cloudcraft: the work did not finish before the function\'s deadline. Retry the deployment.'));
  }

  async handle(): Promise<CfnResult> {
    const { event } = this;
    let props: CloudcraftProps;
    try {
      props = parseProps(event.ResourceType, event.ResourceProperties);
    } catch (err) {
      // A Delete whose properties no longer parse owns nothing this function can reach: it succeeds (onDelete).
      if (!(err instanceof PropertyError) || event.RequestType !== 'Delete') throw err;
      return this.onDelete(undefined, err.message);
    }
    // The key goes only where the construct chose at synth: an event naming another API is refused before any request
    // (who may invoke the function could otherwise have the key sent to a host of theirs).
    const allowed = this.deps.apiUrls ?? allowedApiUrls(process.env[API_URLS_VARIABLE]);
    if (!allowed.has(props.apiUrl)) {
      const reason = `cdk-cloudcraft: ApiUrl ${props.apiUrl} is not an API this stack's handler may call (${[...allowed].join(', ') || 'none'}, fixed at synth): no request was sent.`;
      this.log('error', 'API URL refused', { apiUrl: props.apiUrl });
      // A Delete never fails: nothing of this resource can be reached through its handler.
      if (event.RequestType === 'Delete') return { status: 'SUCCESS', physicalId: event.PhysicalResourceId ?? UNREGISTERED_PHYSICAL_ID, reason };
      throw new CloudcraftError(reason);
    }
    if (event.RequestType === 'Delete') return this.onDelete(props.kind === 'registration' ? props : undefined);
    if (props.kind === 'iam-parameters') {
      const parameters = await (await this.connect(props)).iamParameters();
      return { status: 'SUCCESS', physicalId: IAM_PARAMETERS_PHYSICAL_ID, data: { ExternalId: parameters.externalId, AccountId: parameters.accountId } };
    }
    return event.RequestType === 'Create' ? this.onCreate(props) : this.onUpdate(props);
  }

  private async onCreate(props: RegistrationProps): Promise<CfnResult> {
    return this.register(props, true);
  }

  private async onUpdate(props: RegistrationProps): Promise<CfnResult> {
    const physicalId = this.event.PhysicalResourceId ?? UNREGISTERED_PHYSICAL_ID;
    let oldProps: RegistrationProps | undefined;
    try {
      // Never named: an Update must not need iam:ListAccountAliases for the properties it replaces.
      const parsed = parseProps(this.event.ResourceType, this.event.OldResourceProperties);
      oldProps = parsed.kind === 'registration' ? parsed : undefined;
    } catch {
      oldProps = undefined; // an older shape we cannot read: treat every field as changed
    }
    const plan = planUpdate(physicalId, oldProps, props);
    if (plan.action === 'none') {
      this.log('info', 'update: no Cloudcraft call', { why: plan.why });
      return this.kept(physicalId, plan.registration, props);
    }
    if (plan.action === 'create') {
      this.log('info', 'update: registering anew (new physical ID)', { why: plan.why });
      return this.register(props, false);
    }
    const cc = await this.connect(props);
    const named = await this.named(props);
    const { id } = plan.registration;
    if (plan.action === 'relocate') {
      // Another host may be the same installation (a new name for the API): keep the registration if it is there.
      const accounts = await cc.listAccounts();
      const found = accounts.find(a => a.id === id);
      if (!found) {
        this.log('info', 'update: not at the new API URL; registering there (new physical ID)', { why: plan.why });
        return this.register(props, false, accounts);
      }
      if (!matchesDesired(found, named)) await cc.update(id, registrationBody(wantedOf(named), { current: found }), named);
      return this.kept(physicalId, plan.registration, props);
    }
    // A team list the template does not manage is sent back as the registration has it (whether a PUT that leaves it
    // out keeps or clears it is not documented): one list first, and no PUT if Cloudcraft already has what is wanted.
    // Left out of that list is not evidence that it is gone: the PUT confirms it (404).
    const listed = needsCurrentTeams(named) ? await cc.listAccounts() : undefined;
    const current = listed?.find(a => a.id === id);
    if (current && matchesDesired(current, named)) return this.kept(physicalId, plan.registration, props);
    const result = await cc.update(id, registrationBody(wantedOf(named), { current }), named);
    if (result === 'updated') return this.kept(physicalId, plan.registration, props);
    this.log('warn', 'update: gone from Cloudcraft; registering again (new physical ID)', { registrationId: id });
    return this.register(props, false, listed);
  }

  private async onDelete(props: RegistrationProps | undefined, propsError?: string): Promise<CfnResult> {
    const physicalId = this.event.PhysicalResourceId ?? UNREGISTERED_PHYSICAL_ID;
    const done: CfnResult = { status: 'SUCCESS', physicalId };
    if (this.event.ResourceType === IAM_PARAMETERS_TYPE || physicalId === IAM_PARAMETERS_PHYSICAL_ID) return done;
    const plan = planDelete(physicalId, props, propsError);
    if (plan.action === 'skip') {
      this.log(props ? 'info' : 'warn', 'delete: no Cloudcraft call', { why: plan.why, physicalId });
      return { ...done, reason: `No Cloudcraft call: ${plan.why}.` };
    }
    const p = props!;
    const held = await this.heldElsewhere();
    if (plan.action !== 'cleanup') {
      const holder = held(plan.id);
      if (holder) {
        this.log('info', 'delete: the registration is held by another resource of the stack; no Cloudcraft call', { registrationId: plan.id, holder: holder.logicalId });
        return { ...done, reason: `No Cloudcraft call: registration ${plan.id} is held by ${holder.logicalId} of this stack.` };
      }
    }
    if (plan.action === 'restore') {
      const { original } = plan;
      if (alreadyAsFound(original, p)) {
        this.log('info', 'delete: adopted registration already as found', { registrationId: plan.id });
        return done;
      }
      // Given back as it was found: its name and the team access the template managed (restoredOf).
      const restored = restoredOf(original, p);
      const cc = await this.connect(p);
      // Left out of the list, the PUT itself says whether it is gone (404).
      const current = needsCurrentTeams(restored) ? (await cc.listAccounts()).find(a => a.id === plan.id) : undefined;
      const result = await cc.update(plan.id, registrationBody(restored, { current }), p);
      this.log('info', result === 'gone' ? 'delete: already gone' : 'delete: adopted registration restored', { registrationId: plan.id, name: original.name });
      return done;
    }
    const cc = await this.connect(p);
    if (plan.action === 'delete') {
      const result = await cc.remove(plan.id);
      this.log('info', result === 'gone' ? 'delete: already gone' : 'delete: removed', { registrationId: plan.id });
      return done;
    }
    await this.removeSince(p.roleArn, plan.since, 'delete: removed', id => {
      const holder = held(id);
      if (holder) this.log('info', 'delete: a possible leftover is held by a resource of the stack; kept', { registrationId: id, holder: holder.logicalId });
      return !!holder;
    });
    return done;
  }

  /** What a failed registration may have left: removes the role's registrations created since `since`, but those `spare` keeps. */
  private async removeSince(roleArn: string, since: number, removed: string, spare: (id: string) => boolean): Promise<void> {
    for (const { id } of leftoversOf(await this.client!.listAccounts(), roleArn, since)) {
      if (spare(id)) continue;
      const result = await this.client!.remove(id);
      this.log('info', result === 'gone' ? 'delete: already gone' : removed, { registrationId: id });
    }
  }

  /**
   * Which other resource of the stack holds a registration (holderOf). If the stack cannot be read, nobody: a Delete
   * removes what it owns and a Create adopts, as they would without this check (a registration left behind would be
   * an orphan).
   */
  private async heldElsewhere(): Promise<(id: string) => StackResource | undefined> {
    let resources: StackResource[] = [];
    try {
      resources = await this.deps.readStackResources(this.event.StackId, this.signal);
    } catch (err) {
      this.log('warn', 'cannot list the stack\'s resources (cloudformation:ListStackResources)', { error: (err as Error)?.name ?? String(err) });
    }
    return id => holderOf(resources, this.event, id);
  }

  /**
   * Registers the role, or takes the registration that exists (planCreate). After every POST, registrations of the
   * role that were not there at the first list are this Create's or a twin delivery's: the oldest is kept, the
   * others removed (afterPost), so a Create delivered twice ends with one registration under one physical ID.
   * A POST that may have registered (no answer, 5xx, a 2xx without the account) is settled by waiting and listing
   * before any other POST: Cloudcraft has no idempotency key.
   */
  private async register(props: RegistrationProps, isCreate: boolean, listed?: CloudcraftAccount[]): Promise<CfnResult> {
    const cc = await this.connect(props);
    const named = await this.named(props);
    const accounts = listed ?? await cc.listAccounts();
    const plan = planCreate(accounts, named, this.deps.clock.now());
    if (plan.action === 'refuse') throw new CloudcraftError(plan.reason);
    if (plan.action === 'own') {
      this.log('info', 'create: registered by a twin delivery of this event', { registrationId: plan.account.id });
      return this.registered({ id: plan.account.id, adopted: false }, props);
    }
    if (plan.action === 'adopt') {
      const { account } = plan;
      const holder = (await this.heldElsewhere())(account.id);
      if (holder?.physicalId) {
        // Made or adopted by another resource of this stack (the construct moved or renamed: that resource is deleted
        // next): this one takes over its physical ID, so its own Delete will do what that one's would have done.
        this.log('info', 'create: taking over the registration of another resource of the stack', { registrationId: account.id, from: holder.logicalId });
        if (!matchesDesired(account, named)) await cc.update(account.id, registrationBody(wantedOf(named), { current: account }), named);
        const ref = parsePhysicalId(holder.physicalId);
        return this.kept(holder.physicalId, ref.kind === 'registration' ? ref : { id: account.id, adopted: false }, props);
      }
      if (plan.put) {
        const previous = { previousName: account.name, previousReadAccess: account.readAccess, previousWriteAccess: account.writeAccess };
        if (isCreate) this.adopting = physicalIdOf({ id: account.id, adopted: true, original: originalOf(account) });
        this.log('warn', 'create: adopting a registration made before the stack; name and managed team access now the template\'s (restored on delete)', {
          registrationId: account.id, ...previous,
        });
        if (await cc.update(account.id, registrationBody(wantedOf(named), { current: account }), named) === 'gone') {
          throw new CloudcraftError(`Cloudcraft: the registration ${account.id} of ${named.roleArn} disappeared while being adopted. Retry.`);
        }
      } else {
        this.log('info', 'create: adopting a registration made before the stack (already as wanted)', { registrationId: account.id });
      }
      return this.registered({ id: account.id, adopted: true, original: originalOf(account) }, props, account.name ?? '');
    }
    const known = new Set(accounts.map(a => a.id));
    const body = registrationBody(wantedOf(named), { region: named.region });
    const since = this.deps.clock.now();
    if (isCreate) this.postedSince = since;
    let ambiguous: string | undefined;
    try {
      for (let posts = 1; ; posts++) {
        let result;
        try {
          result = await cc.register(body, named);
        } catch (err) {
          if (ambiguous === undefined) this.postedSince = undefined; // every POST was refused: nothing registered
          throw err;
        }
        if (result.kind === 'registered') {
          let settled;
          try {
            settled = afterPost(await cc.listAccounts(), known, named.roleArn, result.account);
          } catch (err) {
            this.log('warn', 'create: no list after the POST', { error: (err as Error).message });
          }
          return await this.keep(settled ?? { keep: result.account, remove: [] }, props);
        }
        ambiguous = result.reason;
        this.log('warn', 'create: the POST may have registered; listing before posting again', { reason: result.reason, settleMs: SETTLE_MS });
        await cc.sleep(SETTLE_MS);
        const found = afterPost(await cc.listAccounts(), known, named.roleArn);
        if (found) return await this.keep(found, props);
        if (posts >= MAX_POSTS) {
          throw new CloudcraftError(`${ambiguous} Cloudcraft showed no registration of ${named.roleArn} after ${posts} POSTs.`, { ambiguous: true });
        }
      }
    } catch (err) {
      // A failed Create says pending:<time> and its rollback removes what it made. A failed Update keeps its old
      // physical ID, so nothing would ever remove what its POSTs made: it removes that itself, while it has time.
      if (!isCreate && ambiguous !== undefined) {
        await this.removeSince(named.roleArn, since - PENDING_SKEW_MS, 'update: removed what its failed registration made', id => known.has(id))
          .catch(e => this.log('warn', 'update: cannot remove what its failed registration may have made', { error: (e as Error).message }));
      }
      throw err;
    }
  }

  private async keep(settled: { keep: CloudcraftAccount; remove: CloudcraftAccount[] }, props: RegistrationProps): Promise<CfnResult> {
    for (const extra of settled.remove) {
      this.log('warn', 'create: removing a duplicate made by this event', { registrationId: extra.id, kept: settled.keep.id });
      try {
        await this.client!.remove(extra.id);
      } catch (err) {
        this.log('warn', 'create: duplicate not removed', { registrationId: extra.id, error: (err as Error).message });
      }
    }
    this.postedSince = undefined;
    return this.registered({ id: settled.keep.id, adopted: false }, props);
  }

  private registered(registration: Registration, props: RegistrationProps, previousName?: string): CfnResult {
    return this.kept(physicalIdOf(registration), registration, props, previousName);
  }

  private kept(physicalId: string, registration: Registration, props: RegistrationProps, previousName = registration.original?.name): CfnResult {
    return {
      status: 'SUCCESS',
      physicalId,
      data: {
        RegistrationId: registration.id,
        RoleArn: props.roleArn,
        Adopted: String(registration.adopted),
        // Capped: a name set by hand in Cloudcraft could push the answer past CloudFormation's 4,096 bytes.
        ...(registration.adopted && previousName !== undefined ? { PreviousName: truncate(previousName, MAX_PREVIOUS_NAME_CHARS) } : {}),
      },
    };
  }

  private async connect(props: { apiUrl: string; apiKey: RegistrationProps['apiKey'] }): Promise<CloudcraftClient> {
    if (!this.client) this.client = await connectWithKey(props, this.deps, this.log, this.redactor, this.deadlineAt, { signal: this.signal });
    return this.client;
  }

  /** Props with the account name filled in (reading the alias at most once per invocation, and only if needed). */
  private async named(props: RegistrationProps): Promise<RegistrationProps> {
    if (!props.naming) return props;
    const accountId = accountIdOfRole(props.roleArn);
    const alias = needsAlias(props.naming, accountId) ? await (this.alias ??= this.deps.readAlias(this.signal)) : undefined;
    return { ...props, accountName: accountNameFor(props.naming, accountId, alias) };
  }
}

export function createHandler(partial: Partial<HandlerDeps> = {}): (event: CfnEvent, context: LambdaContext) => Promise<void> {
  const deps: HandlerDeps = {
    clock: systemClock,
    transport: fetchTransport(),
    readSecret: sdkSecretReader,
    readAlias: sdkAliasReader,
    readStackResources: sdkStackResourcesReader,
    sink: line => console.log(line),
    random: Math.random,
    ...partial,
  };
  return async (event, context) => {
    const { clock } = deps;
    const redactor = new Redactor();
    const log = makeLog(deps.sink, redactor, {
      requestType: event.RequestType, resourceType: event.ResourceType, logicalId: event.LogicalResourceId, requestId: event.RequestId,
    });
    const deadlineAt = clock.now() + context.getRemainingTimeInMillis() - RESERVE_MS;
    const stopWork = new AbortController();
    const stopTimer = new AbortController();
    const run = new Run(deps, event, log, redactor, deadlineAt, stopWork.signal);
    log('info', 'event', { physicalId: event.PhysicalResourceId });
    // The work, or the deadline: whichever comes first is answered; the work is then stopped.
    const result = await new Promise<CfnResult>(resolve => {
      clock.sleep(Math.max(0, deadlineAt - clock.now()), stopTimer.signal).then(() => resolve(run.atDeadline()), () => undefined);
      run.handle().then(resolve, err => resolve(run.failure(err)));
    });
    stopTimer.abort();
    stopWork.abort();
    const ok = await answer(event, answerBody(event, result, text => redactor.redact(text)), clock, deps.transport,
      (attempt, why) => log('warn', 'answer to CloudFormation failed', { attempt, why }), deadlineAt + RESERVE_MS - 500);
    log(ok ? 'info' : 'error', ok ? 'answered CloudFormation' : 'could not answer CloudFormation', {
      status: result.status, physicalId: result.physicalId, reason: result.reason, cloudcraftCalls: run.client?.calls ?? 0,
    });
  };
}

export const handler = createHandler();
