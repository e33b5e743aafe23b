/**
 * What a run reports: its summary (a log line and the return value), and one CloudWatch Embedded Metric Format line
 * (CloudWatch Logs turns it into metrics: no API call, no permission).
 */
import { StopKind } from './execute';
import type { PolicyMetrics } from '../../runtime/policy-check';

export interface RunSummary {
  readonly trigger: string;
  /** Why the run did nothing (another invocation holds the lease, the stack was deleted, no deployment recorded). */
  readonly skipped?: string;
  readonly desired: number;
  readonly registered: number;
  readonly pending: number;
  readonly failed: number;
  readonly removed: number;
  /** Accounts whose stack instance FAILED (their Cloudcraft role may not exist). */
  readonly failedInstances: number;
  /** Changes Cloudcraft confirmed in this invocation. */
  readonly progress: number;
  readonly calls: number;
  readonly rejected429: number;
  readonly complete: boolean;
  readonly stop?: StopKind;
  readonly error?: string;
  /** When the run checked Cloudcraft's minimal policy. */
  readonly policy?: PolicyMetrics;
}

export function emptySummary(trigger: string, extra: Partial<RunSummary> = {}): RunSummary {
  return {
    trigger,
    desired: 0,
    registered: 0,
    pending: 0,
    failed: 0,
    removed: 0,
    failedInstances: 0,
    progress: 0,
    calls: 0,
    rejected429: 0,
    complete: false,
    ...extra,
  };
}

export interface MetricsContext {
  readonly namespace: string;
  readonly stackSetName: string;
  readonly now: number;
}

/**
 * The EMF line of a run. The account figures only when the run learnt the desired set (otherwise the alarm sees
 * missing data); `LedgerMissing` when the ledger holds no deployment (emptied or lost).
 */
export function metricsLine(summary: RunSummary, ctx: MetricsContext, extra: { accountsKnown: boolean; ledgerMissing?: boolean }): string {
  const metrics: Record<string, number> = {
    ...(extra.accountsKnown ? {
      AccountsDesired: summary.desired,
      AccountsRegistered: summary.registered,
      AccountsPending: summary.pending,
      AccountsFailed: summary.failed,
      AccountsUnregistered: summary.desired - summary.registered,
      StackInstancesFailed: summary.failedInstances,
    } : {}),
    ...(extra.ledgerMissing ? { LedgerMissing: 1 } : {}),
    RegistrationsRemoved: summary.removed,
    CloudcraftCalls: summary.calls,
    CloudcraftRateLimited: summary.rejected429,
    ...summary.policy,
  };
  return JSON.stringify({
    _aws: {
      Timestamp: ctx.now,
      CloudWatchMetrics: [{
        Namespace: ctx.namespace,
        Dimensions: [['StackSetName']],
        Metrics: Object.keys(metrics).map(name => ({ Name: name, Unit: 'Count' })),
      }],
    },
    StackSetName: ctx.stackSetName,
    ...metrics,
  });
}
