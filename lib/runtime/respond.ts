/**
 * The answer to a CloudFormation custom-resource event: a JSON body PUT to the pre-signed ResponseURL with an
 * empty Content-Type (the URL is signed without one), under 4 KB, retried. Its time budget is fixed and known
 * (`ANSWER_BUDGET_MS`), so callers keep that much back from the function's deadline.
 */
import { Clock, timeoutSignal } from './clock';
import { Transport } from './http';
import { truncate } from './policy';

export interface CfnEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly ResponseURL: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly ResourceType?: string;
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties?: Record<string, unknown>;
  readonly OldResourceProperties?: Record<string, unknown>;
}

export interface CfnResult {
  readonly status: 'SUCCESS' | 'FAILED';
  readonly physicalId: string;
  readonly reason?: string;
  readonly data?: Record<string, string>;
}

export const ANSWER_ATTEMPTS = 3;
export const ANSWER_TIMEOUT_MS = 5_000;
const ANSWER_PAUSES_MS = [500, 1_000];
/** Every attempt timing out, plus the pauses between them. */
export const ANSWER_BUDGET_MS = ANSWER_ATTEMPTS * ANSWER_TIMEOUT_MS + ANSWER_PAUSES_MS.reduce((a, b) => a + b, 0);
const MAX_REASON_CHARS = 1_000;

export function isCfnEvent(event: unknown): event is CfnEvent {
  const e = event as Partial<CfnEvent> | undefined;
  return !!e && typeof e.RequestType === 'string' && typeof e.ResponseURL === 'string';
}

export function answerBody(event: CfnEvent, result: CfnResult, redact: (text: string) => string = t => t): string {
  return JSON.stringify({
    Status: result.status,
    Reason: truncate(redact(result.reason ?? result.status), MAX_REASON_CHARS),
    PhysicalResourceId: result.physicalId,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
    NoEcho: false,
    ...(result.data ? { Data: result.data } : {}),
  });
}

/**
 * PUTs the answer; true when CloudFormation took it. Never throws. `ANSWER_ATTEMPTS` tries, and more while a network
 * error or a 5xx persists and `until` (the function's end) leaves time for another attempt: CloudFormation, never
 * answered, would wait its whole ServiceTimeout and then roll back without the physical ID (an orphan registration).
 */
export async function answer(event: CfnEvent, body: string, clock: Clock, transport: Transport,
  onFailure: (attempt: number, why: string) => void, until?: number): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    const timeout = timeoutSignal(clock, ANSWER_TIMEOUT_MS);
    let transient = true;
    try {
      const response = await transport({ method: 'PUT', url: event.ResponseURL, headers: { 'content-type': '' }, body }, timeout.signal);
      if (response.status >= 200 && response.status < 300) return true;
      transient = response.status >= 500;
      onFailure(attempt, `HTTP ${response.status}`);
    } catch (err) {
      onFailure(attempt, (err as Error)?.message ?? String(err));
    } finally {
      timeout.cancel();
    }
    const pause = ANSWER_PAUSES_MS[attempt - 1] ?? Math.min(10_000, 1_000 * 2 ** (attempt - ANSWER_ATTEMPTS));
    const more = attempt < ANSWER_ATTEMPTS || (transient && until !== undefined && clock.now() + pause + ANSWER_TIMEOUT_MS <= until);
    if (!more) return false;
    await clock.sleep(pause);
  }
}
