/**
 * The one Cloudcraft client of the Lambda code (custom-resource handler and Organization registrar): requests
 * with a timeout, pacing under the key's rate limit, retries, and a reason a person can act on when it fails.
 * Its clock and HTTP transport are injected, so tests run it on virtual time against the emulator.
 */
import { Clock, timeoutSignal } from './clock';
import { Transport, TransportError } from './http';
import { Pacing } from './pacing';
import {
  CallOutcome, CloudcraftAccount, explainFailure, isAmbiguous, isSuccess, MIN_CALL_MS, Operation, parseRetryAfter,
  retryDecision,
} from './policy';

export type LogLevel = 'info' | 'warn' | 'error';
export type Log = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

/** The one failure type of the Lambda code: `reason` is what CloudFormation, the logs and the metrics say. */
export class CloudcraftError extends Error {
  constructor(
    readonly reason: string,
    readonly details: { readonly outcome?: CallOutcome; readonly ambiguous?: boolean; readonly deadline?: boolean } = {},
  ) {
    super(reason);
    this.name = 'CloudcraftError';
  }
}

export interface CloudcraftClientOptions {
  readonly apiUrl: string;
  readonly apiKey: string;
  /** Where the key was read from, for reasons (never the key). */
  readonly keySource: string;
  readonly clock: Clock;
  readonly transport: Transport;
  readonly pacing: Pacing;
  readonly log: Log;
  readonly random: () => number;
  /** No request is started later than MIN_CALL_MS before this time. */
  readonly deadlineAt: number;
  /** Aborts calls in flight (the handler's deadline). */
  readonly signal?: AbortSignal;
  /** Longest single call. @default 15 s */
  readonly callTimeoutMs?: number;
  /** Attempts of one call at the most (a call is also bounded by the deadline). @default - until the deadline */
  readonly maxAttempts?: number;
  /**
   * Runs right before each request is sent, once pacing allows it (the registrar checks that it still holds its
   * lease). What it throws stops the call, and the request is not sent.
   */
  readonly beforeSend?: (operation: Operation) => Promise<void>;
  /** Keep each answer's whole body in its outcome (snapshots: the document and the image). @default false */
  readonly keepBodies?: boolean;
  /**
   * Least time a request needs before the deadline (a snapshot is held up to 120 s): none is sent with less left,
   * after pacing's wait. @default MIN_CALL_MS
   */
  readonly minCallMs?: number;
}

/** Context for reasons about a role. */
export interface RoleContext {
  readonly roleArn?: string;
  readonly region?: string;
}

export interface CallOptions extends RoleContext {
  readonly body?: unknown;
  /** Statuses that end the call without being failures (404 for a gone account). */
  readonly accept?: number[];
  /** Stop at the first answer that may have been acted on (a POST): the caller settles it. */
  readonly stopWhenAmbiguous?: boolean;
  /** Runs right before each attempt is sent (after pacing and `beforeSend`): a write-ahead record of a POST. */
  readonly onSend?: () => Promise<void>;
}

export type RegisterResult =
  | { readonly kind: 'registered'; readonly account: CloudcraftAccount }
  /** The POST may or may not have registered the account: list again (after a while) before posting again. */
  | { readonly kind: 'ambiguous'; readonly reason: string };

const DEFAULT_CALL_TIMEOUT_MS = 15_000;

export class CloudcraftClient {
  /** Requests sent. */
  public calls = 0;
  /** 429 answers received. */
  public rejected = 0;
  /** Why the last failed attempt failed. */
  public lastProblem?: string;
  /** When the last request was sent (after pacing's wait). */
  public lastSentAt?: number;

  constructor(private readonly options: CloudcraftClientOptions) {}

  get deadlineAt(): number {
    return this.options.deadlineAt;
  }

  /** Time left before the deadline. */
  remaining(): number {
    return this.options.deadlineAt - this.options.clock.now();
  }

  /** One paced request. Never throws for HTTP or network failures: they are outcomes. `headers` are added to the request's. */
  async attempt(operation: Operation, method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, onSend?: () => Promise<void>,
    headers: Record<string, string> = {}): Promise<CallOutcome> {
    const { clock, pacing } = this.options;
    const minCallMs = this.options.minCallMs ?? MIN_CALL_MS;
    for (;;) {
      if (this.remaining() < minCallMs) throw this.stopped(operation);
      const wait = await pacing.take(clock.now());
      if (wait === 0) break;
      if (wait + minCallMs > this.remaining()) throw this.stopped(operation);
      await this.sleep(wait);
    }
    const remaining = this.remaining();
    if (remaining < minCallMs) throw this.stopped(operation);
    await this.options.beforeSend?.(operation);
    await onSend?.();
    this.calls++;
    this.lastSentAt = clock.now();
    const timeout = timeoutSignal(clock, Math.min(this.options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS, remaining - 1_000), this.options.signal);
    let outcome: CallOutcome;
    try {
      const response = await this.options.transport({
        method,
        url: `${this.options.apiUrl}${path}`,
        headers: {
          'Authorization': `Bearer ${this.options.apiKey}`,
          'Accept': 'application/json',
          ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
          'User-Agent': 'cdk-cloudcraft',
          ...headers,
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      }, timeout.signal);
      let parsed: unknown;
      try {
        parsed = response.text.trim() === '' ? null : JSON.parse(response.text);
      } catch {
        parsed = undefined;
      }
      outcome = {
        kind: 'response',
        status: response.status,
        retryAfter: response.headers['retry-after'] ?? null,
        ...(response.headers.etag ? { etag: response.headers.etag } : {}),
        body: parsed,
        text: response.text.slice(0, 2_000),
        ...(this.options.keepBodies ? { rawText: response.text, ...(response.bytes ? { bytes: response.bytes } : {}) } : {}),
      };
    } catch (err) {
      const e = err instanceof TransportError ? err : new TransportError('network', String((err as Error)?.message ?? err).slice(0, 120));
      outcome = { kind: 'network', error: e.message, cause: e.kind };
    } finally {
      timeout.cancel();
    }
    const now = clock.now();
    const limited = outcome.kind === 'response' && outcome.status === 429;
    if (limited) this.rejected++;
    await pacing.answered(now, limited, limited ? parseRetryAfter((outcome as { retryAfter?: string | null }).retryAfter, now) : undefined);
    return outcome;
  }

  /** One logical call with retries. Returns the successful (or accepted) outcome; throws a CloudcraftError. */
  async call(operation: Operation, method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, options: CallOptions = {}): Promise<CallOutcome> {
    const { clock, log } = this.options;
    const started = clock.now();
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.attempt(operation, method, path, options.body, options.onSend);
      const ok = isSuccess(outcome, operation) || (outcome.kind === 'response' && (options.accept ?? []).includes(outcome.status));
      const status = outcome.kind === 'response' ? outcome.status : undefined;
      log(ok ? 'info' : 'warn', 'cloudcraft call', {
        operation, method, path, attempt, status, error: outcome.kind === 'network' ? outcome.error : undefined,
      });
      if (ok) return outcome;
      this.lastProblem = explainFailure(outcome, {
        operation,
        apiUrl: this.options.apiUrl,
        keySource: this.options.keySource,
        attempts: attempt,
        roleArn: options.roleArn,
        region: options.region,
      });
      if (options.stopWhenAmbiguous && isAmbiguous(outcome)) {
        throw new CloudcraftError(this.lastProblem, { outcome, ambiguous: true });
      }
      const decision = retryDecision(outcome, {
        operation,
        attempt,
        elapsedMs: clock.now() - started,
        remainingMs: this.remaining(),
        random: this.options.random(),
        pacerWaitMs: this.options.pacing.delay(clock.now()),
        maxAttempts: this.options.maxAttempts,
      });
      if (!decision.retry) {
        throw new CloudcraftError(decision.outOfTime ? this.stoppedReason(operation) : this.lastProblem, { outcome, deadline: decision.outOfTime });
      }
      log('info', 'retrying', { operation, why: decision.why, delayMs: decision.delayMs });
      await this.sleep(decision.delayMs);
    }
  }

  async listAccounts(): Promise<CloudcraftAccount[]> {
    const outcome = await this.call('list', 'GET', '/aws/account');
    const body = outcome.kind === 'response' ? outcome.body as { accounts?: unknown } : undefined;
    if (!body || !Array.isArray(body.accounts)) {
      throw new CloudcraftError('Cloudcraft: the account list has an unexpected shape (no "accounts" array).');
    }
    return body.accounts.filter((a): a is CloudcraftAccount => !!a && typeof (a as CloudcraftAccount).id === 'string' && (a as CloudcraftAccount).id !== '');
  }

  /**
   * POSTs a registration. Retries what certainly did not register (429, 400 while IAM propagates); stops at the
   * first answer that may have registered, so the caller can look before posting again.
   */
  async register(body: Record<string, unknown>, context: RoleContext, onSend?: () => Promise<void>): Promise<RegisterResult> {
    try {
      const outcome = await this.call('register', 'POST', '/aws/account', { body, stopWhenAmbiguous: true, onSend, ...context });
      const account = outcome.kind === 'response' ? outcome.body as CloudcraftAccount : undefined;
      if (!account || typeof account.id !== 'string' || account.id === '') {
        return { kind: 'ambiguous', reason: 'Cloudcraft answered the registration without an account id.' };
      }
      return { kind: 'registered', account };
    } catch (err) {
      if (err instanceof CloudcraftError && err.details.ambiguous) return { kind: 'ambiguous', reason: err.reason };
      throw err;
    }
  }

  /** PUTs name, role and team access; `gone` when Cloudcraft no longer has the account. */
  async update(id: string, body: Record<string, unknown>, context: RoleContext): Promise<'updated' | 'gone'> {
    const outcome = await this.call('update', 'PUT', `/aws/account/${encodeURIComponent(id)}`, { body, accept: [404], ...context });
    return outcome.kind === 'response' && outcome.status === 404 ? 'gone' : 'updated';
  }

  /** DELETEs a registration; `gone` when it was already gone. */
  async remove(id: string): Promise<'removed' | 'gone'> {
    const outcome = await this.call('delete', 'DELETE', `/aws/account/${encodeURIComponent(id)}`, { accept: [404] });
    return outcome.kind === 'response' && outcome.status === 404 ? 'gone' : 'removed';
  }

  async iamParameters(): Promise<{ accountId: string; externalId: string }> {
    const outcome = await this.call('iamParameters', 'GET', '/aws/account/iamParameters');
    const body = (outcome.kind === 'response' ? outcome.body : undefined) as { accountId?: unknown; externalId?: unknown } | undefined;
    if (typeof body?.externalId !== 'string' || typeof body?.accountId !== 'string') {
      throw new CloudcraftError('Cloudcraft: GET /aws/account/iamParameters answered without accountId and externalId.');
    }
    return { accountId: body.accountId, externalId: body.externalId };
  }

  /** Waits on the injected clock; stops at the deadline. */
  async sleep(ms: number): Promise<void> {
    try {
      await this.options.clock.sleep(ms, this.options.signal);
    } catch {
      throw new CloudcraftError(this.stoppedReason(), { deadline: true });
    }
  }

  private stopped(operation: Operation): CloudcraftError {
    return new CloudcraftError(this.stoppedReason(operation), { deadline: true });
  }

  private stoppedReason(operation?: Operation): string {
    const before = operation ? ` before ${operation}` : '';
    return this.lastProblem
      ? `Stopped at the deadline${before}. ${this.lastProblem}`
      : `Cloudcraft: the work did not finish before the deadline${before}; it is taken up again by the next run.`;
  }
}
