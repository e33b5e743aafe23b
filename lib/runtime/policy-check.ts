/**
 * The daily check of Cloudcraft's minimal policy, once for every function that does it (the Organization registrar,
 * the single account's registration function): read the live policy (one call, within the key's pacing), compare it
 * with what the role has, and report a change once (a warning, an EventBridge event, a metric), or apply it in follow
 * mode. A policy of an unexpected shape is reported, never applied. Decisions are pure (`judgePolicy`); `checkPolicy`
 * carries them out with injected I/O.
 */
import { createHash } from 'crypto';
import { CloudcraftClient, CloudcraftError, Log } from './cloudcraft';
import { POLICY_CHANGED } from './events';
import { documentDrift, DocumentDrift, driftAdvice, LivePolicyDocument, readLivePolicy } from './live-policy';
import { MINIMAL_POLICY_VERSION, minimalPolicyJson } from '../role/minimal-policy';

/** Where the live minimal policy is read. */
export const MINIMAL_POLICY_PATH = '/aws/account/iamParameters/policy/minimal';
/**
 * Time between two reads: a day, less an hour so that an hourly schedule does not drift a run later each day.
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html (rate expressions).
 */
export const POLICY_CHECK_INTERVAL_MS = 23 * 3_600_000;
/** A read that failed is tried again after this (by the next invocation that comes then). */
export const POLICY_RETRY_MS = 3_600_000;

/** What is kept between checks. */
export interface PolicyCheckState {
  /** Not before this time. */
  readonly nextAt?: number;
  /** The fingerprint of the change last reported ("unexpected:<hash>" for an unexpected answer); none while in step. */
  readonly reported?: string;
  /** When the live policy last read as a policy, and its fingerprint. */
  readonly readAt?: number;
  readonly liveFingerprint?: string;
  /** A change applied (follow mode) whose event EventBridge has not taken yet: put by the next check first. */
  readonly owed?: PolicyReport;
}

/** What one read of the live policy gave. */
export type PolicyReading =
  | { readonly kind: 'policy'; readonly document: LivePolicyDocument; readonly fingerprint: string }
  | { readonly kind: 'unexpected'; readonly reason: string; readonly fingerprint: string }
  | { readonly kind: 'unavailable'; readonly reason: string };

/** What the role has now: the vendored copy (detection), or the inline policy applied last (follow mode). */
export interface DeployedPolicy {
  readonly document: LivePolicyDocument;
  readonly fingerprint: string;
  /** The vendored copy's version (MINIMAL_POLICY_VERSION), or "live" for a policy applied in follow mode. */
  readonly version: string;
}

/** The detail of the `Cloudcraft Policy Changed` event, and the warning's message. */
export interface PolicyReport {
  readonly message: string;
  readonly detail: Record<string, unknown>;
}

export interface PolicyMetrics {
  /** 1 while the live policy differs from the role's (detection), 0 otherwise. */
  readonly PolicyDrift: number;
  /** 1 when the answer was not a policy this library may deploy. */
  readonly PolicyUnexpected: number;
  /** 1 when the policy could not be read. */
  readonly PolicyCheckFailed: number;
  /** 1 when the follow mode applied a new policy. */
  readonly PolicyApplied: number;
}

export interface PolicyVerdict {
  readonly state: PolicyCheckState;
  /** Report it (once per change). */
  readonly report?: PolicyReport;
  /** Follow mode: apply this document as the role's inline policy (then report). */
  readonly apply?: LivePolicyDocument;
  readonly metrics: PolicyMetrics;
  /** For the log. */
  readonly summary: string;
}

/** What a role without the inline policy has (follow mode). */
const NOTHING: DeployedPolicy = { document: { Version: '2012-10-17', Statement: [] }, fingerprint: 'none', version: 'none' };

function localized(document: LivePolicyDocument, localize: (document: LivePolicyDocument) => LivePolicyDocument): PolicyReading {
  return readingOf(localize(document));
}

const NO_METRICS: PolicyMetrics = { PolicyDrift: 0, PolicyUnexpected: 0, PolicyCheckFailed: 0, PolicyApplied: 0 };

export function policyCheckDue(state: PolicyCheckState | undefined, now: number): boolean {
  return now >= (state?.nextAt ?? 0);
}

/** The vendored minimal policy, as what a role deployed with `CloudcraftAccess.minimal()` has. */
export function vendoredMinimal(): DeployedPolicy {
  const read = readLivePolicy(minimalPolicyJson());
  if (read.kind !== 'policy') throw new Error(`the vendored minimal policy does not read as a policy: ${read.reason}`);
  return { document: read.document, fingerprint: read.fingerprint, version: MINIMAL_POLICY_VERSION };
}

/** One reading of the live policy as the pure functions see it. */
export function readingOf(body: unknown): PolicyReading {
  const live = readLivePolicy(body);
  if (live.kind === 'policy') return { kind: 'policy', document: live.document, fingerprint: live.fingerprint };
  return { kind: 'unexpected', reason: live.reason, fingerprint: `unexpected:${createHash('sha256').update(live.reason).digest('hex').slice(0, 16)}` };
}

/**
 * What follows from a reading, given what the role has and what was reported before. A change is reported once: the
 * same live policy the next day is not reported again (the metric stays at 1); a policy that comes back in step ends
 * the report, and a later change is reported anew.
 */
export function judgePolicy(state: PolicyCheckState | undefined, reading: PolicyReading, deployed: DeployedPolicy, follow: boolean,
  now: number): PolicyVerdict {
  const s = state ?? {};
  if (reading.kind === 'unavailable') {
    return {
      state: { ...s, nextAt: now + POLICY_RETRY_MS },
      metrics: { ...NO_METRICS, PolicyCheckFailed: 1 },
      summary: `Cloudcraft's minimal policy could not be read (${reading.reason}); tried again in an hour`,
    };
  }
  const next = { ...s, nextAt: now + POLICY_CHECK_INTERVAL_MS };
  if (reading.kind === 'unexpected') {
    const message = `Cloudcraft answered its minimal policy in a shape this library does not apply: ${reading.reason}. `
      + (follow ? 'The role keeps the policy it has.' : 'The role keeps the vendored policy.');
    return {
      state: { ...next, reported: reading.fingerprint },
      ...(s.reported !== reading.fingerprint ? { report: { message, detail: { policy: 'minimal', status: 'unexpected', reason: reading.reason, applied: false } } } : {}),
      metrics: { ...NO_METRICS, PolicyUnexpected: 1 },
      summary: message,
    };
  }
  const read = { ...next, readAt: now, liveFingerprint: reading.fingerprint };
  if (reading.fingerprint === deployed.fingerprint) {
    const { reported: _reported, ...rest } = read;
    return { state: rest, metrics: NO_METRICS, summary: 'Cloudcraft\'s minimal policy is the one the role has' };
  }
  const drift = documentDrift(deployed.document, reading.document);
  const detail = {
    policy: 'minimal',
    status: 'changed',
    added: drift.added,
    removed: drift.removed,
    otherResources: drift.reshaped,
    vendoredVersion: MINIMAL_POLICY_VERSION,
    fingerprint: reading.fingerprint,
    applied: follow,
  };
  if (follow) {
    // Applied, then reported (the caller reports only once the role has it).
    return {
      state: { ...read, reported: reading.fingerprint },
      apply: reading.document,
      report: { message: `Cloudcraft's minimal policy changed (${counts(drift)}): the role now has it.`, detail: { ...detail, advice: 'Nothing to do: the role follows the policy.' } },
      metrics: { ...NO_METRICS, PolicyApplied: 1 },
      summary: `Cloudcraft's minimal policy changed (${counts(drift)}): applied`,
    };
  }
  const advice = driftAdvice('minimal', drift, MINIMAL_POLICY_VERSION);
  const message = `Cloudcraft's minimal policy changed (${counts(drift)}). ${advice}`;
  return {
    state: { ...read, reported: reading.fingerprint },
    ...(s.reported !== reading.fingerprint ? { report: { message, detail: { ...detail, advice } } } : {}),
    metrics: { ...NO_METRICS, PolicyDrift: 1 },
    summary: message,
  };
}

function counts(drift: DocumentDrift): string {
  const parts = [`${drift.added.length} added`, `${drift.removed.length} removed`];
  if (drift.reshaped.length > 0) parts.push(`${drift.reshaped.length} with other resources`);
  return parts.join(', ');
}

/** Reads the live minimal policy: one paced request (and the client's bounded retries of a 429 or a 5xx). */
export async function readLiveMinimal(client: CloudcraftClient): Promise<PolicyReading> {
  try {
    // A 200 that is not JSON is an answer (unexpected), not a failure to retry.
    const outcome = await client.call('policy', 'GET', MINIMAL_POLICY_PATH, { accept: [200] });
    return readingOf(outcome.kind === 'response' ? outcome.body ?? outcome.text : undefined);
  } catch (err) {
    if (err instanceof CloudcraftError) return { kind: 'unavailable', reason: err.reason };
    throw err;
  }
}

/** The I/O of a check: where its state is kept, where the event goes, and (follow mode) the role's inline policy. */
export interface PolicyCheckIo {
  /** Follow mode: the role's inline policy as applied (undefined when there is none), and applying one. */
  readonly follow?: {
    applied(): Promise<DeployedPolicy | undefined>;
    apply(document: LivePolicyDocument): Promise<void>;
  };
  readState(): Promise<PolicyCheckState | undefined>;
  writeState(state: PolicyCheckState): Promise<void>;
  putEvent(detailType: string, detail: Record<string, unknown>): Promise<void>;
}

export interface PolicyCheckResult {
  readonly checked: boolean;
  readonly metrics: PolicyMetrics;
  readonly summary?: string;
}

/**
 * One check when due (or `force`d): read, judge, apply (follow mode), report, keep the state. An event EventBridge
 * does not take is reported again by the next check (the state is written only after it).
 */
export async function checkPolicy(client: CloudcraftClient, io: PolicyCheckIo, log: Log, now: () => number,
  force = false, localize: (document: LivePolicyDocument) => LivePolicyDocument = d => d): Promise<PolicyCheckResult> {
  let state = await io.readState();
  if (state?.owed) {
    // An applied change is reported once, even when EventBridge failed the first time (no Cloudcraft call for it).
    await io.putEvent(POLICY_CHANGED, state.owed.detail);
    const { owed: _owed, ...rest } = state;
    state = rest;
    await io.writeState(state);
  }
  if (!force && !policyCheckDue(state, now())) return { checked: false, metrics: NO_METRICS };
  const read = await readLiveMinimal(client);
  // Follow mode compares and applies the policy as the role holds it (its partition's ARNs).
  const reading = read.kind === 'policy' && io.follow ? localized(read.document, localize) : read;
  // Follow mode: a role without the inline policy (removed by hand) has nothing, and gets the live policy again.
  const deployed = io.follow ? (await io.follow.applied()) ?? NOTHING : vendoredMinimal();
  const verdict = judgePolicy(state, reading, deployed, io.follow !== undefined, now());
  if (verdict.apply) {
    try {
      await io.follow!.apply(verdict.apply);
    } catch (err) {
      // IAM refused it (a document it does not take, a throttle): the role keeps what it has; the next check tries again.
      const error = `${(err as Error)?.name ?? 'Error'}: ${String((err as Error)?.message ?? err).slice(0, 300)}`;
      log('error', 'Cloudcraft\'s minimal policy could not be applied to the role: it keeps the policy it has', { error });
      await io.writeState({ ...state, nextAt: now() + POLICY_RETRY_MS });
      return { checked: true, metrics: { ...NO_METRICS, PolicyCheckFailed: 1 }, summary: `not applied (${error})` };
    }
    // Applied: the report is owed until EventBridge takes it.
    await io.writeState({ ...verdict.state, owed: verdict.report });
  }
  if (verdict.report) {
    // Every action, not only the first few the message names.
    const { added, removed, otherResources, reason } = verdict.report.detail;
    log('warn', verdict.report.message, { policy: 'minimal', added, removed, otherResources, reason });
    await io.putEvent(POLICY_CHANGED, verdict.report.detail);
  } else {
    log(reading.kind === 'unavailable' ? 'warn' : 'info', 'policy check', { summary: verdict.summary });
  }
  await io.writeState(verdict.state);
  return { checked: true, metrics: verdict.metrics, summary: verdict.summary };
}
