/**
 * What an invocation is for, from its event (pure). Events come from CloudFormation (the registrar's resource, and
 * the IAM parameters resource), from EventBridge (the StackSet's stack-instance events, the schedule), and from the
 * registrar itself (a run or a Delete that continues in a new invocation).
 */
import { IAM_PARAMETERS_TYPE } from './contract';
import { CfnEvent, isCfnEvent } from '../../runtime/respond';

export type Trigger =
  | { readonly kind: 'iam-parameters'; readonly event: CfnEvent }
  /** Create or Update of the registrar's resource: records the settings, answers, reconciles. */
  | { readonly kind: 'deploy'; readonly event: CfnEvent }
  /** The stack's Delete; a continuation carries the end of CloudFormation's window and what was removed before. */
  | { readonly kind: 'delete'; readonly event: CfnEvent; readonly until?: number; readonly removed?: number }
  | { readonly kind: 'instance-event'; readonly time: number }
  | { readonly kind: 'schedule' }
  /** A run that continues (depth > 0), or one asked for while another held the lease (depth 0). */
  | { readonly kind: 'continue'; readonly depth: number; readonly force: boolean };

/** The payload of an invocation the registrar sends itself. */
export type Continuation =
  | { readonly cdkCloudcraft: 'continue'; readonly depth: number; readonly force: boolean }
  | { readonly cdkCloudcraft: 'delete'; readonly event: CfnEvent; readonly until: number; readonly removed: number };

export function triggerOf(event: unknown): Trigger {
  if (isCfnEvent(event)) {
    if (event.ResourceType === IAM_PARAMETERS_TYPE) return { kind: 'iam-parameters', event };
    return event.RequestType === 'Delete' ? { kind: 'delete', event } : { kind: 'deploy', event };
  }
  const e = (event ?? {}) as Record<string, unknown>;
  if (e.cdkCloudcraft === 'delete' && isCfnEvent(e.event)) {
    return { kind: 'delete', event: e.event, until: Number(e.until) || undefined, removed: Number(e.removed) || 0 };
  }
  if (e.cdkCloudcraft === 'continue') return { kind: 'continue', depth: Math.max(0, Number(e.depth) || 0), force: e.force === true };
  if (e['detail-type'] === 'CloudFormation StackSet StackInstance Status Change') {
    const time = Date.parse(String(e.time ?? ''));
    return { kind: 'instance-event', time: Number.isNaN(time) ? Infinity : time };
  }
  return { kind: 'schedule' };
}

/**
 * EventBridge's `time` is in whole seconds, and a run reads the stack instances some time after it starts: a run
 * covers the instance events sent more than this before it started.
 */
export const COVER_MARGIN_MS = 60_000;

/** Whether a finished run that started at `runStartedAt` already saw what an instance event sent at `eventTime` says. */
export function covered(runStartedAt: number | undefined, eventTime: number): boolean {
  return runStartedAt !== undefined && runStartedAt > eventTime + COVER_MARGIN_MS;
}

/** When CloudFormation made the request: the X-Amz-Date of its pre-signed ResponseURL (undefined without one). */
export function requestTime(event: CfnEvent): number | undefined {
  const m = /[?&]X-Amz-Date=(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z/.exec(event.ResponseURL);
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : undefined;
}

/**
 * When CloudFormation stops waiting for a Delete (its ServiceTimeout from the request, an hour by default), less 5
 * minutes. Without the request's time, now less the longest a queued invocation waits (15 minutes).
 */
export function deleteWindowEnd(event: CfnEvent, now: number): number {
  const requested = requestTime(event) ?? now - 15 * 60_000;
  return Math.min(requested, now) + (Number(event.ResourceProperties?.ServiceTimeout) || 3_600) * 1_000 - 5 * 60_000;
}
