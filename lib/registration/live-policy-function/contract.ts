/**
 * The contract between the single-account integration's live-policy construct (../live-policy.ts) and its function:
 * the resource type, the daily rule's event and their properties, as CloudFormation and EventBridge deliver them.
 * Logic-free, imported by both sides so that the compiler keeps them coupled.
 */
import type { ApiResourceProperties } from '../handler/contract';

/**
 * Cloudcraft's live minimal policy as the inline policy of the Cloudcraft role (followLivePolicy): applied on Create
 * and Update (the vendored copy when the live one cannot be read), removed on Delete. Attributes: `Source` (live or
 * vendored), `Fingerprint`.
 */
export const LIVE_POLICY_TYPE = 'Custom::CloudcraftLivePolicy';
/** The inline policy of the Cloudcraft role that holds Cloudcraft's live minimal policy: the function writes no other. */
export const LIVE_POLICY_NAME = 'cloudcraft-minimal-live';
/** The event of the daily rule that checks (or follows) Cloudcraft's minimal policy: its `cdkCloudcraft` field. */
export const POLICY_CHECK_EVENT = 'policy-check';
/** The function's environment variable: the API URL it may send the key to (JSON list), fixed at synth. */
export { API_URLS_VARIABLE } from '../handler/contract';

/** Custom::CloudcraftLivePolicy, and the `properties` of the daily rule's event. */
export interface LivePolicyResourceProperties extends ApiResourceProperties {
  /** `check`: report a change; `follow`: apply it as the role's inline policy `cloudcraft-minimal-live`. */
  readonly Mode: 'check' | 'follow';
  /** The Cloudcraft role. */
  readonly RoleName: string;
  /** The SSM parameter that keeps the check's state (what was reported). */
  readonly StateParameter: string;
  /** The namespace of the check's metrics. */
  readonly MetricsNamespace: string;
  /** The role's partition (`aws`, `aws-us-gov`): Cloudcraft writes its ARNs in `aws`. */
  readonly Partition: string;
}

/** The daily rule's event. */
export interface PolicyCheckEvent {
  readonly cdkCloudcraft: typeof POLICY_CHECK_EVENT;
  readonly properties: LivePolicyResourceProperties;
}
