/**
 * The decisions of the Cloudcraft handler, as pure functions: what to do for an event, whether and when to retry
 * a call, and what to tell CloudFormation when it fails. No I/O, no clock: time is passed in.
 */
import { AccountNaming, ApiKeyRef, RegistrationProps } from './properties';

/** A Cloudcraft AWS-account object (unknown fields are ignored). */
export interface CloudcraftAccount {
  readonly id: string;
  readonly name?: string;
  readonly roleArn?: string;
  readonly externalId?: string;
  readonly readAccess?: string[] | null;
  readonly writeAccess?: string[] | null;
  readonly createdAt?: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Physical IDs

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ADOPTED_PREFIX = 'adopted:';

/** Physical ID answered for a Create that registered nothing: a later Delete makes no call for it. */
export const UNREGISTERED_PHYSICAL_ID = 'cloudcraft-unregistered';
/** Physical ID of the iamParameters reader (it owns nothing in Cloudcraft). */
export const IAM_PARAMETERS_PHYSICAL_ID = 'cloudcraft-iam-parameters';

export interface Registration {
  readonly id: string;
  /** It existed in Cloudcraft before this resource: it is not removed on delete unless the user opted in. */
  readonly adopted: boolean;
}

/** The physical ID is the Cloudcraft account ID; `adopted:<id>` when the registration existed before the stack. */
export function physicalIdOf(registration: Registration): string {
  return registration.adopted ? `${ADOPTED_PREFIX}${registration.id}` : registration.id;
}

export function parsePhysicalId(physicalId: string | undefined): Registration | undefined {
  if (!physicalId) return undefined;
  const adopted = physicalId.startsWith(ADOPTED_PREFIX);
  const id = adopted ? physicalId.slice(ADOPTED_PREFIX.length) : physicalId;
  return UUID.test(id) ? { id, adopted } : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Account names

/** The account ID in a role ARN (`arn:<partition>:iam::<account>:role/...`). */
export function accountIdOfRole(roleArn: string): string | undefined {
  return /^arn:[\w-]+:iam::(\d{12}):role\//.exec(roleArn)?.[1];
}

/** Whether naming this account needs its alias (an IAM call). */
export function needsAlias(naming: AccountNaming, accountId: string | undefined): boolean {
  return !(accountId && naming.names[accountId]) && naming.pattern.includes('{alias}');
}

/**
 * The account's name: its entry in `names`, else the pattern with `{accountId}` and `{alias}` filled in. An
 * account without an alias gets `aws-<account ID>` for `{alias}`, never a bare number.
 */
export function accountNameFor(naming: AccountNaming, accountId: string | undefined, alias: string | undefined): string {
  const id = accountId ?? 'unknown';
  const mapped = accountId ? naming.names[accountId] : undefined;
  if (mapped && mapped.trim() !== '') return mapped.trim();
  return naming.pattern.split('{accountId}').join(id).split('{alias}').join(alias ?? `aws-${id}`).trim();
}

// ---------------------------------------------------------------------------------------------------------------
// Plans

/** The body sent to POST and PUT: always every field, so the outcome never depends on Cloudcraft's defaults for omitted ones. */
export function desiredBody(props: RegistrationProps, forCreate: boolean): Record<string, unknown> {
  return {
    name: props.accountName,
    roleArn: props.roleArn,
    readAccess: props.readAccess,
    writeAccess: props.writeAccess,
    ...(forCreate && props.region ? { region: props.region } : {}),
  };
}

/** The registrations of a role, oldest first (duplicates made by other tools are left alone). */
export function registrationsOfRole(accounts: CloudcraftAccount[], roleArn: string): CloudcraftAccount[] {
  return accounts
    .filter(a => typeof a.roleArn === 'string' && a.roleArn === roleArn)
    .sort((a, b) => String(a.createdAt ?? '').localeCompare(String(b.createdAt ?? '')) || a.id.localeCompare(b.id));
}

function sameTeams(a: string[] | null | undefined, b: string[] | null | undefined): boolean {
  const norm = (x: string[] | null | undefined) => (x == null ? null : JSON.stringify([...x].sort()));
  return norm(a) === norm(b);
}

/** Whether a Cloudcraft account already has the wanted name, role and team access. */
export function matchesDesired(account: CloudcraftAccount, props: RegistrationProps): boolean {
  return account.name === props.accountName && account.roleArn === props.roleArn
    && sameTeams(account.readAccess, props.readAccess) && sameTeams(account.writeAccess, props.writeAccess);
}

function sameKey(a: ApiKeyRef, b: ApiKeyRef): boolean {
  return a.source === b.source && a.id === b.id && (a.field ?? '') === (b.field ?? '');
}

export type UpdatePlan =
  | { readonly action: 'none'; readonly registration: Registration; readonly why: string }
  | { readonly action: 'put'; readonly registration: Registration }
  | { readonly action: 'create'; readonly why: string };

export function planUpdate(physicalId: string, oldProps: RegistrationProps | undefined, props: RegistrationProps): UpdatePlan {
  const registration = parsePhysicalId(physicalId);
  if (!registration) return { action: 'create', why: 'the resource was never registered' };
  if (oldProps && oldProps.apiUrl !== props.apiUrl) {
    // Another Cloudcraft API (another installation): the registration cannot move, so a new one is made and
    // CloudFormation deletes the old one with the old properties.
    return { action: 'create', why: `the API URL changed from ${oldProps.apiUrl} to ${props.apiUrl}` };
  }
  if (oldProps && sameKey(oldProps.apiKey, props.apiKey) && oldProps.accountName === props.accountName
    && oldProps.roleArn === props.roleArn && sameTeams(oldProps.readAccess, props.readAccess)
    && sameTeams(oldProps.writeAccess, props.writeAccess)) {
    return { action: 'none', registration, why: 'nothing Cloudcraft stores changed' };
  }
  return { action: 'put', registration };
}

export type DeletePlan =
  | { readonly action: 'skip'; readonly why: string }
  | { readonly action: 'delete'; readonly registration: Registration };

export function planDelete(physicalId: string, props: RegistrationProps | undefined): DeletePlan {
  const registration = parsePhysicalId(physicalId);
  if (!registration) return { action: 'skip', why: 'nothing was registered (the create failed or never ran)' };
  if (!props) return { action: 'delete', registration };
  if (props.removalPolicy === 'retain') return { action: 'skip', why: 'removalPolicy is RETAIN' };
  if (registration.adopted && !props.removeAdopted) {
    return { action: 'skip', why: 'the registration existed before the stack (adopted); set removeAdoptedRegistration to remove it too' };
  }
  return { action: 'delete', registration };
}

// ---------------------------------------------------------------------------------------------------------------
// Calls, retries and deadlines

export type Operation = 'list' | 'register' | 'update' | 'delete' | 'iamParameters';

export type CallOutcome =
  | { readonly kind: 'response'; readonly status: number; readonly retryAfter?: string | null; readonly body: unknown; readonly text: string }
  | { readonly kind: 'network'; readonly error: string };

export interface RetryContext {
  readonly operation: Operation;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** Milliseconds since the first attempt of this call. */
  readonly elapsedMs: number;
  /** Milliseconds left before the handler must stop working and answer. */
  readonly remainingMs: number;
  /** A number in [0, 1) for jitter. */
  readonly random: number;
}

export const BACKOFF_BASE_MS = 1_000;
export const BACKOFF_CAP_MS = 20_000;
/** Without Retry-After, wait as if the stricter published limit (20 requests a minute) held. */
export const RATE_LIMIT_DEFAULT_WAIT_MS = 60_000;
/** How long a 400 from role verification is retried: IAM needs seconds to make a new role assumable. */
export const VERIFICATION_WINDOW_MS = 90_000;
/** Least time a call needs; a retry that leaves less before the deadline is not started. */
export const MIN_CALL_MS = 2_000;

export type RetryDecision =
  | { readonly retry: true; readonly delayMs: number; readonly why: string }
  | { readonly retry: false };

/** Parses Retry-After (seconds or an HTTP date) into milliseconds; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value == null || value.trim() === '') return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

function backoff(attempt: number, random: number): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (ceiling / 2) * random); // "equal jitter": never zero, never above the cap
}

/** Whether a 400 is Cloudcraft failing to assume the role (possibly IAM propagation), rather than a bad request. */
export function isVerificationFailure(outcome: CallOutcome): boolean {
  if (outcome.kind !== 'response' || outcome.status !== 400) return false;
  const text = `${errorMessage(outcome.body) ?? ''} ${outcome.text}`.toLowerCase();
  if (/verif|assume|unable to access|access ?denied|not authori[sz]ed|external ?id/.test(text)) return true;
  if (/invalid|malformed|format/.test(text)) return false;
  // An error without a readable message may be either: treat it as verification, within the window.
  return errorMessage(outcome.body) === undefined;
}

export function retryDecision(outcome: CallOutcome, ctx: RetryContext, nowMs: number): RetryDecision {
  let delayMs: number;
  let why: string;
  if (outcome.kind === 'network') {
    delayMs = backoff(ctx.attempt, ctx.random);
    why = `network error (${outcome.error})`;
  } else if (outcome.status === 429) {
    delayMs = parseRetryAfter(outcome.retryAfter, nowMs) ?? RATE_LIMIT_DEFAULT_WAIT_MS;
    // Spread clients that were limited together, so they do not come back in the same instant.
    delayMs += Math.round(ctx.random * 1000);
    why = 'rate limited (429)';
  } else if (outcome.status >= 500) {
    delayMs = backoff(ctx.attempt, ctx.random);
    why = `server error (${outcome.status})`;
  } else if (outcome.status >= 200 && outcome.status < 300 && outcome.body === undefined && outcome.text.trim() !== '') {
    delayMs = backoff(ctx.attempt, ctx.random);
    why = `answer ${outcome.status} was not JSON`;
  } else if ((ctx.operation === 'register' || ctx.operation === 'update') && isVerificationFailure(outcome)
    && ctx.elapsedMs < VERIFICATION_WINDOW_MS) {
    delayMs = Math.max(backoff(ctx.attempt, ctx.random), 3_000);
    why = 'Cloudcraft could not assume the role yet (IAM propagation)';
  } else {
    return { retry: false };
  }
  if (delayMs + MIN_CALL_MS > ctx.remainingMs) return { retry: false };
  return { retry: true, delayMs, why };
}

// ---------------------------------------------------------------------------------------------------------------
// Reasons for CloudFormation

export function errorMessage(body: unknown): string | undefined {
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    for (const key of ['error', 'message', 'reason']) {
      if (typeof b[key] === 'string' && b[key] !== '') return b[key] as string;
    }
  }
  return undefined;
}

export interface ExplainContext {
  readonly operation: Operation;
  readonly apiUrl: string;
  /** Where the key was read from (never the key). */
  readonly keySource: string;
  readonly roleArn?: string;
  readonly region?: string;
  readonly attempts: number;
}

const OPERATION_TEXT: Record<Operation, string> = {
  list: 'listing AWS accounts',
  register: 'registering the AWS account',
  update: 'updating the AWS account',
  delete: 'removing the AWS account',
  iamParameters: 'reading the IAM parameters (external ID)',
};

/** A short reason for CloudFormation's event log that says what failed and what to do. */
export function explainFailure(outcome: CallOutcome, ctx: ExplainContext): string {
  const doing = OPERATION_TEXT[ctx.operation];
  const tries = ctx.attempts > 1 ? ` after ${ctx.attempts} attempts` : '';
  if (outcome.kind === 'network') {
    return `Cloudcraft: no answer from ${ctx.apiUrl} while ${doing}${tries} (${outcome.error}). Check the apiUrl, and that the function can reach it (internet access, proxy, VPC); then retry.`;
  }
  const detail = errorMessage(outcome.body);
  const said = detail ? `: "${truncate(detail, 160)}"` : '';
  switch (true) {
    case outcome.status === 401:
      return `Cloudcraft rejected the API key (401) read from ${ctx.keySource} while ${doing}. Store a current Cloudcraft API key there (Cloudcraft: User > API keys).`;
    case outcome.status === 403:
      return `Cloudcraft refused ${doing} (403${said}). The API key must belong to an Owner or Administrator of the Cloudcraft team, be a read-write key, and the team must have an active Pro (or higher) subscription.`;
    case outcome.status === 400 && (ctx.operation === 'register' || ctx.operation === 'update') && isVerificationFailure(outcome):
      return `Cloudcraft could not verify the role ${ctx.roleArn ?? ''} (400${said})${tries}, assuming it from ${ctx.region ?? 'us-east-1'}. The role's external ID must be the one of the Cloudcraft user who owns the API key (GET /aws/account/iamParameters), it must trust Cloudcraft's AWS account, and no SCP may deny that region: set verificationRegion to an allowed region.`;
    case outcome.status === 400:
      return `Cloudcraft rejected the request while ${doing} (400${said}). Check the account name, role ARN and team IDs.`;
    case outcome.status === 404:
      return `Cloudcraft found nothing to act on while ${doing} (404${said}).`;
    case outcome.status === 429:
      return `Cloudcraft kept rate-limiting the API key (429)${tries} until the function's deadline while ${doing}. Deploy fewer accounts at once (StackSet MaxConcurrentCount) or retry later.`;
    case outcome.status >= 500:
      return `Cloudcraft failed with ${outcome.status}${said}${tries} while ${doing}. This is on Cloudcraft's side: retry the deployment later.`;
    case outcome.status >= 200 && outcome.status < 300:
      return `Cloudcraft answered ${outcome.status} with a body that is not the expected JSON${tries} while ${doing}.`;
    default:
      return `Cloudcraft answered ${outcome.status}${said} while ${doing}.`;
  }
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}
