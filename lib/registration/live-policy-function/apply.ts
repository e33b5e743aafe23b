/**
 * Cloudcraft's live minimal policy for one account (the single-account integration): the resource
 * Custom::CloudcraftLivePolicy (followLivePolicy: the Cloudcraft role's inline policy, applied on Create and Update,
 * removed on Delete) and the daily rule's check (report a change; in follow mode, apply it). The decisions are
 * runtime/policy-check.ts's, shared with the Organization registrar; this file carries them out.
 */
import { LivePolicyProps } from './properties';
import { CloudcraftClient, Log } from '../../runtime/cloudcraft';
import { PutEvent } from '../../runtime/events';
import { LivePolicyDocument } from '../../runtime/live-policy';
import {
  checkPolicy, DeployedPolicy, POLICY_CHECK_INTERVAL_MS, PolicyCheckResult, PolicyCheckState, readingOf, readLiveMinimal, vendoredMinimal,
} from '../../runtime/policy-check';
import { CfnResult } from '../../runtime/respond';

/** The AWS I/O of the live policy: thin, swappable (SDK in live-policy-io.ts, in memory in tests). */
export interface LivePolicyIo {
  readonly putEvent: PutEvent;
  /** The check's state, kept in an SSM parameter; undefined when it holds none. */
  readState(parameter: string): Promise<PolicyCheckState | undefined>;
  writeState(parameter: string, state: PolicyCheckState): Promise<void>;
  /** The role's inline policy (the document as JSON), undefined when it has none of that name. */
  getRolePolicy(roleName: string, policyName: string): Promise<unknown | undefined>;
  putRolePolicy(roleName: string, policyName: string, document: LivePolicyDocument): Promise<void>;
  /** 'gone' when the role has no such policy (or no longer exists). */
  deleteRolePolicy(roleName: string, policyName: string): Promise<'deleted' | 'gone'>;
}

export function livePolicyPhysicalId(props: LivePolicyProps): string {
  return `cloudcraft-live-policy:${props.roleName}:${props.policyName}`;
}

/** The policy as written for the role's partition: Cloudcraft writes its ARNs in the `aws` partition. */
export function inPartition(document: LivePolicyDocument, partition: string): LivePolicyDocument {
  if (partition === 'aws') return document;
  return {
    ...document,
    Statement: document.Statement.map(s => ({ ...s, Resource: s.Resource.map(r => (r.startsWith('arn:aws:') ? `arn:${partition}:${r.slice(8)}` : r)) })),
  };
}

/**
 * Create and Update: the live policy when Cloudcraft answers one this library may apply, else the vendored copy (with
 * the reason in the answer); applied as the role's inline policy. The role's boundary (ReadOnlyAccess) caps it either way.
 */
export async function applyAtDeploy(client: CloudcraftClient, props: LivePolicyProps, partition: string, io: LivePolicyIo, log: Log,
  now: number): Promise<CfnResult> {
  const reading = await readLiveMinimal(client);
  const vendored = vendoredMinimal();
  let [source, document, why]: ['live' | 'vendored', LivePolicyDocument, string | undefined] = reading.kind === 'policy'
    ? ['live', reading.document, undefined] : ['vendored', vendored.document, reading.reason];
  let applied = inPartition(document, partition);
  try {
    await io.putRolePolicy(props.roleName, props.policyName, applied);
  } catch (err) {
    // IAM refused the live document (MalformedPolicyDocument, LimitExceeded): the vendored copy, as when it cannot be read.
    const name = (err as { name?: string }).name ?? '';
    if (source !== 'live' || !/MalformedPolicyDocument|LimitExceeded/.test(name)) throw err;
    [source, document, why] = ['vendored', vendored.document, `IAM refused it: ${name}`];
    applied = inPartition(document, partition);
    await io.putRolePolicy(props.roleName, props.policyName, applied);
  }
  const read = readingOf(applied);
  const fingerprint = read.kind === 'policy' ? read.fingerprint : '';
  // The next check in a day; what was reported before stays (an unexpected answer is not reported again).
  const state = await io.readState(props.stateParameter).catch(() => undefined);
  await io.writeState(props.stateParameter, { ...state, nextAt: now + POLICY_CHECK_INTERVAL_MS }).catch(err => {
    log('warn', 'the policy check\'s state could not be written: the next check comes sooner', { error: (err as Error)?.name });
  });
  log(source === 'live' ? 'info' : 'warn', `applied Cloudcraft's ${source} minimal policy to the role`, { role: props.roleName, why });
  return {
    status: 'SUCCESS',
    physicalId: livePolicyPhysicalId(props),
    data: { Source: source, Fingerprint: fingerprint },
    ...(why ? { reason: `Cloudcraft's live minimal policy could not be used (${why}): the vendored copy was applied.` } : {}),
  };
}

/**
 * Delete: the inline policy goes (already gone is fine). Refused by IAM, the Delete still succeeds with the command
 * that removes it by hand: the role no longer carries this installation's tag (access was switched away from
 * minimal() in the same deployment), and a failed Delete would only leave the stack in UPDATE_COMPLETE_CLEANUP_FAILED.
 */
export async function removeAtDelete(props: LivePolicyProps, physicalId: string | undefined, io: LivePolicyIo, log: Log): Promise<CfnResult> {
  let removed: 'deleted' | 'gone';
  try {
    removed = await io.deleteRolePolicy(props.roleName, props.policyName);
  } catch (err) {
    const name = (err as { name?: string }).name ?? 'Error';
    if (!/AccessDenied/.test(name)) throw err;
    const reason = `The inline policy ${props.policyName} of ${props.roleName} could not be removed (${name}): remove it with `
      + `"aws iam delete-role-policy --role-name ${props.roleName} --policy-name ${props.policyName}".`;
    log('warn', reason);
    return { status: 'SUCCESS', physicalId: physicalId ?? livePolicyPhysicalId(props), reason };
  }
  return {
    status: 'SUCCESS',
    physicalId: physicalId ?? livePolicyPhysicalId(props),
    reason: removed === 'deleted' ? `Removed the inline policy ${props.policyName} of ${props.roleName}.` : 'The inline policy was already gone.',
  };
}

/** The daily check: report a change (check), or apply it (follow). */
export async function dailyCheck(client: CloudcraftClient, props: LivePolicyProps, partition: string, io: LivePolicyIo, log: Log,
  now: () => number): Promise<PolicyCheckResult> {
  const follow = props.mode === 'follow' ? {
    applied: async (): Promise<DeployedPolicy | undefined> => {
      const document = await io.getRolePolicy(props.roleName, props.policyName);
      if (document === undefined) return undefined;
      const read = readingOf(document);
      // An inline policy edited into something else by hand: replaced by the live policy.
      return read.kind === 'policy' ? { document: read.document, fingerprint: read.fingerprint, version: 'applied' } : undefined;
    },
    apply: (document: LivePolicyDocument) => io.putRolePolicy(props.roleName, props.policyName, document),
  } : undefined;
  return checkPolicy(client, {
    readState: () => io.readState(props.stateParameter),
    writeState: state => io.writeState(props.stateParameter, state),
    putEvent: io.putEvent,
    ...(follow ? { follow } : {}),
  }, log, now, false, document => inPartition(document, partition));
}

/** The check's metrics, as one CloudWatch Embedded Metric Format line (no API call, no permission). */
export function checkMetricsLine(result: PolicyCheckResult, props: LivePolicyProps, now: number): string {
  return JSON.stringify({
    _aws: {
      Timestamp: now,
      CloudWatchMetrics: [{ Namespace: props.metricsNamespace, Dimensions: [['RoleName']], Metrics: Object.keys(result.metrics).map(Name => ({ Name, Unit: 'Count' })) }],
    },
    RoleName: props.roleName,
    ...result.metrics,
  });
}
