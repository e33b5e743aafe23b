/**
 * What to do with one Cloudcraft answer, as pure functions: whether and when to retry, and what to tell a person
 * when it fails. Shared by the custom-resource handler and the Organization registrar. No I/O, no clock.
 */
import { MAX_RETRY_AFTER_MS } from './pacer';

/** A Cloudcraft AWS-account object (unknown fields are ignored; the id is an opaque string). */
export interface CloudcraftAccount {
  readonly id: string;
  readonly name?: string;
  readonly roleArn?: string;
  readonly externalId?: string;
  readonly readAccess?: string[] | null;
  readonly writeAccess?: string[] | null;
  readonly createdAt?: string;
}

export type Operation = 'list' | 'register' | 'update' | 'delete' | 'iamParameters' | 'snapshot' | 'blueprint' | 'policy';

export type CallOutcome =
  | {
    readonly kind: 'response';
    readonly status: number;
    readonly retryAfter?: string | null;
    /** The ETag header (a blueprint's version), when sent. */
    readonly etag?: string;
    readonly body: unknown;
    /** The body's first 2,000 characters (for reasons). */
    readonly text: string;
    /** The whole body, as text (a snapshot) and as received (an image). */
    readonly rawText?: string;
    readonly bytes?: Uint8Array;
  }
  | { readonly kind: 'network'; readonly error: string; readonly cause: 'network' | 'timeout' | 'too-large' | 'local' };

export interface RetryContext {
  readonly operation: Operation;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** Milliseconds since the first attempt of this call. */
  readonly elapsedMs: number;
  /** Milliseconds left before the work must stop. */
  readonly remainingMs: number;
  /** A number in [0, 1) for jitter. */
  readonly random: number;
  /** After a 429: how long the pacer holds the next request back. */
  readonly pacerWaitMs?: number;
  /** Attempts of this call at the most. @default - no bound but the deadline */
  readonly maxAttempts?: number;
}

export const BACKOFF_BASE_MS = 1_000;
export const BACKOFF_CAP_MS = 20_000;
/** How long a 400 from role verification is retried: IAM needs seconds to make a new role assumable. */
export const VERIFICATION_WINDOW_MS = 90_000;
/** Least time a call needs; a retry that leaves less before the deadline is not started. */
export const MIN_CALL_MS = 2_000;

export type RetryDecision =
  | { readonly retry: true; readonly delayMs: number; readonly why: string }
  /** `outOfTime`: a retry was due, but the deadline leaves no room for it. */
  | { readonly retry: false; readonly outOfTime?: boolean };

/** Parses Retry-After (seconds or an HTTP date) into milliseconds; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value == null || value.trim() === '') return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

export function backoff(attempt: number, random: number): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (ceiling / 2) * random); // "equal jitter": never zero, never above the cap
}

/** Whether a 2xx answer is what the operation needs: JSON for reads and POST; anything for PUT and DELETE (the SDKs ignore those bodies). */
export function isSuccess(outcome: CallOutcome, operation: Operation): boolean {
  if (outcome.kind !== 'response' || outcome.status < 200 || outcome.status >= 300) return false;
  // A snapshot is the document itself (an image is not JSON); 202 is "still processing", not the snapshot.
  if (operation === 'snapshot') return outcome.status === 200;
  // A blueprint's PUT and DELETE answer 204 with no body.
  if (operation === 'blueprint') return true;
  return operation === 'update' || operation === 'delete' || (outcome.body !== undefined && outcome.body !== null);
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

/**
 * Whether a failed POST may still have registered the account: no answer, a timeout, a 5xx, or a 2xx that is not
 * the account (Cloudcraft may have done the work and failed to say so).
 */
export function isAmbiguous(outcome: CallOutcome): boolean {
  if (outcome.kind === 'network') return outcome.cause !== 'local';
  return outcome.status >= 500 || outcome.status === 408 || (outcome.status >= 200 && outcome.status < 300);
}

export function retryDecision(outcome: CallOutcome, ctx: RetryContext): RetryDecision {
  if (ctx.maxAttempts !== undefined && ctx.attempt >= ctx.maxAttempts) return { retry: false };
  let delayMs: number;
  let why: string;
  if (outcome.kind === 'network') {
    if (outcome.cause === 'local' || outcome.cause === 'too-large') return { retry: false };
    delayMs = backoff(ctx.attempt, ctx.random);
    why = `no answer (${outcome.error})`;
  } else if (outcome.status === 429) {
    // The pacer holds every request back until Retry-After; a little jitter on top.
    delayMs = (ctx.pacerWaitMs ?? 0) + Math.round(ctx.random * 500);
    why = 'rate limited (429)';
  } else if (outcome.status >= 500 || outcome.status === 408) {
    delayMs = backoff(ctx.attempt, ctx.random);
    why = `server error (${outcome.status})`;
  } else if (outcome.status >= 200 && outcome.status < 300) {
    delayMs = backoff(ctx.attempt, ctx.random);
    why = `answer ${outcome.status} was not the expected JSON`;
  } else if ((ctx.operation === 'register' || ctx.operation === 'update') && isVerificationFailure(outcome)
    && ctx.elapsedMs < VERIFICATION_WINDOW_MS) {
    delayMs = Math.max(backoff(ctx.attempt, ctx.random), 3_000);
    why = 'Cloudcraft could not assume the role yet (IAM propagation)';
  } else {
    return { retry: false };
  }
  if (delayMs + MIN_CALL_MS > ctx.remainingMs) return { retry: false, outOfTime: true };
  return { retry: true, delayMs, why };
}

/** Cloudcraft's explanation in an error body: its `error`, `message` and `reason` (and `detail`), each once. */
export function errorMessage(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const b = body as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of ['error', 'message', 'detail', 'reason']) {
    const value = b[key];
    if (typeof value === 'string' && value.trim() !== '' && !parts.some(p => p.toLowerCase() === value.trim().toLowerCase())) {
      parts.push(value.trim());
    }
  }
  if (parts.length === 0) return undefined;
  return parts.length === 1 ? parts[0] : `${parts[0]} (${parts.slice(1).join('; ')})`;
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
  snapshot: 'taking a diagram snapshot',
  blueprint: 'writing a diagram\'s blueprint',
  policy: 'reading Cloudcraft\'s current IAM policy',
};

/** A short reason that says what failed and what to do. */
export function explainFailure(outcome: CallOutcome, ctx: ExplainContext): string {
  const doing = OPERATION_TEXT[ctx.operation];
  const tries = ctx.attempts > 1 ? ` after ${ctx.attempts} attempts` : '';
  if (outcome.kind === 'network') {
    if (outcome.cause === 'local') {
      return `Cloudcraft: the request could not be sent while ${doing} (${outcome.error}). This is not a network problem: check the API key stored in ${ctx.keySource} (one line, the key alone) and the apiUrl.`;
    }
    if (outcome.cause === 'too-large') {
      return `Cloudcraft: the answer from ${ctx.apiUrl} while ${doing} was too large (${outcome.error}). Check that the apiUrl is Cloudcraft's API.`;
    }
    return `Cloudcraft: no answer from ${ctx.apiUrl} while ${doing}${tries} (${outcome.error}). Check the apiUrl, and that the function can reach it (internet access, proxy, VPC); then retry.`;
  }
  const detail = errorMessage(outcome.body);
  const said = detail ? `: "${truncate(detail, 300)}"` : '';
  switch (true) {
    case outcome.status === 401:
      return `Cloudcraft rejected the API key (401${said}) read from ${ctx.keySource} while ${doing}. Store a current Cloudcraft API key there (Cloudcraft: User > API keys).`;
    case outcome.status === 403:
      return `Cloudcraft refused ${doing} (403${said}). The API key must belong to an Owner or Administrator of the Cloudcraft team, be a read-write key, and the team must have an active Pro (or higher) subscription.`;
    case outcome.status === 400 && (ctx.operation === 'register' || ctx.operation === 'update') && isVerificationFailure(outcome):
      return `Cloudcraft could not verify the role ${ctx.roleArn ?? ''} (400${said})${tries}, assuming it from ${ctx.region ?? 'us-east-1'}. The role's external ID must be the one of the Cloudcraft user who owns the API key (GET /aws/account/iamParameters), it must trust Cloudcraft's AWS account, and no SCP may deny that region: set verificationRegion to an allowed region.`;
    case outcome.status === 400:
      return `Cloudcraft rejected the request while ${doing} (400${said}). Check the account name, role ARN and team IDs.`;
    case outcome.status === 404:
      return `Cloudcraft found nothing to act on while ${doing} (404${said}).`;
    case outcome.status === 429:
      return `Cloudcraft kept rate-limiting the API key (429${said}${retryAfterText(outcome.retryAfter)})${tries} while ${doing}. Retry later; other users of the same key share its limit.`;
    case outcome.status >= 500 || outcome.status === 408:
      return `Cloudcraft failed with ${outcome.status}${said}${tries} while ${doing}. This is on Cloudcraft's side: retry later.`;
    case outcome.status >= 200 && outcome.status < 300:
      return `Cloudcraft answered ${outcome.status} with a body that is not the expected JSON${tries} while ${doing}.`;
    default:
      return `Cloudcraft answered ${outcome.status}${said} while ${doing}.`;
  }
}

/** Retry-After as Cloudcraft sent it, and what is honoured of it. */
function retryAfterText(value: string | null | undefined): string {
  if (value == null || value.trim() === '') return '';
  // Seconds only: an HTTP date would need the clock, and the message is only words.
  const ms = /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value.trim()) * 1000 : undefined;
  return ms !== undefined && ms > MAX_RETRY_AFTER_MS
    ? `, Retry-After ${truncate(value.trim(), 40)}: honoured up to ${MAX_RETRY_AFTER_MS / 1000} s`
    : `, Retry-After ${truncate(value.trim(), 40)}`;
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}
