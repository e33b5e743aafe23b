/**
 * Cloudcraft's live IAM policies (GET /aws/account/iamParameters/policy/{minimal|custom}), read as pure functions:
 * whether an answer is a read-only policy this library may deploy, its fingerprint, and how it differs from what is
 * deployed. Cloudcraft changes these policies without versions; anything outside the plain shape it has always
 * served is refused with a reason, never deployed. No I/O, no clock.
 */
import { createHash } from 'crypto';

/** One statement, normalized: `Action` and `Resource` always lists. */
export interface LivePolicyStatement {
  readonly Sid?: string;
  readonly Effect: 'Allow';
  readonly Action: string[];
  readonly Resource: string[];
}

/** A policy document, normalized: `Statement` always a list. */
export interface LivePolicyDocument {
  readonly Version: string;
  readonly Statement: LivePolicyStatement[];
}

/**
 * What an answer is: a read-only `policy` (its normalized document, its unique actions sorted case-insensitively
 * in the spelling given, and a fingerprint of its permissions), or `unexpected` with the reason it is refused.
 */
export type LivePolicy =
  | { readonly kind: 'policy'; readonly document: LivePolicyDocument; readonly actions: string[]; readonly fingerprint: string }
  | { readonly kind: 'unexpected'; readonly reason: string };

/** How a live policy differs from the deployed one, by action (IAM actions are case-insensitive: lowercase here). */
export interface PolicyDrift {
  /** Actions the live policy has and the deployed one does not. */
  readonly added: string[];
  /** Actions the deployed policy has and the live one does not. */
  readonly removed: string[];
}

/** How a live document differs from the deployed one: by action, and by the resources of the actions both have. */
export interface DocumentDrift extends PolicyDrift {
  /** Actions in both whose resources differ (API Gateway paths, for instance). */
  readonly reshaped: string[];
  /** Whether any action in both has other resources (`reshaped` is not empty). */
  readonly resourcesChanged: boolean;
}

/** Most actions a live policy may have (the vendored minimal policy has about 140). */
export const MAX_LIVE_ACTIONS = 2_000;
/** Most characters of a live document without whitespace: IAM's total for a role's inline policies. */
export const MAX_LIVE_POLICY_CHARS = 10_240;

/** service:Action; IAM compares actions case-insensitively, so the service's case is not checked either. */
const ACTION = /^[a-z0-9-]+:[a-z0-9*?]+$/i;
const KNOWN_VERSIONS = ['2012-10-17', '2008-10-17'];
const REFUSED_KEYS = ['NotAction', 'NotResource', 'Principal', 'NotPrincipal', 'Condition'];
const STATEMENT_KEYS = ['Sid', 'Effect', 'Action', 'Resource'];

class Unexpected extends Error {}

/** A value quoted for a reason, at most `max` characters. */
function quote(value: unknown, max = 80): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A string or a non-empty list of non-empty strings, as a list; `what` names it in the reason. */
function strings(value: unknown, what: string): string[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list)) throw new Unexpected(`${what} is neither a string nor a list (${quote(value)})`);
  if (list.length === 0) throw new Unexpected(`${what} is an empty list`);
  for (const item of list) {
    if (typeof item !== 'string' || item.trim() === '') throw new Unexpected(`${what} has an item that is not a non-empty string (${quote(item)})`);
  }
  return list as string[];
}

function checkAction(action: string, where: string): void {
  const [service] = action.split(':');
  if (/[*?]/.test(service)) throw new Unexpected(`${where} has the action ${quote(action)}, a wildcard service`);
  if (!ACTION.test(action)) throw new Unexpected(`${where} has ${quote(action)}, which is not a service:Action name`);
  if (/^[*?]+$/.test(action.slice(service.length + 1))) {
    throw new Unexpected(`${where} allows every action of a service (${quote(action)}): a read-only policy never needs that`);
  }
}

function readStatement(raw: unknown, where: string): LivePolicyStatement {
  if (!isObject(raw)) throw new Unexpected(`${where} is not an object (${quote(raw)})`);
  if (raw.Effect !== 'Allow') {
    if (raw.Effect === 'Deny') throw new Unexpected(`${where} is a Deny (reported, never applied)`);
    throw new Unexpected(raw.Effect === undefined ? `${where} has no Effect` : `${where} has the Effect ${quote(raw.Effect)}, not "Allow"`);
  }
  const refused = REFUSED_KEYS.filter(k => k in raw);
  if (refused.length > 0) throw new Unexpected(`${where} has ${refused.join(' and ')}, which this library does not apply`);
  const unknown = Object.keys(raw).filter(k => !STATEMENT_KEYS.includes(k));
  if (unknown.length > 0) throw new Unexpected(`${where} has unknown keys (${quote(unknown.join(', '))})`);
  if (raw.Sid !== undefined && typeof raw.Sid !== 'string') throw new Unexpected(`${where} has a Sid that is not a string`);
  if (!('Action' in raw)) throw new Unexpected(`${where} has no Action`);
  if (!('Resource' in raw)) throw new Unexpected(`${where} has no Resource`);
  const actions = strings(raw.Action, `${where}'s Action`);
  for (const action of actions) checkAction(action, where);
  const resources = strings(raw.Resource, `${where}'s Resource`);
  return { ...(raw.Sid !== undefined ? { Sid: raw.Sid as string } : {}), Effect: 'Allow', Action: actions, Resource: resources };
}

/** The permissions of statements: each lowercase action with its sorted, unique resources, sorted by action. */
function permissions(statements: LivePolicyStatement[]): Map<string, string[]> {
  const byAction = new Map<string, Set<string>>();
  for (const s of statements) {
    for (const action of s.Action) {
      const key = action.toLowerCase();
      const resources = byAction.get(key) ?? new Set<string>();
      s.Resource.forEach(r => resources.add(r));
      byAction.set(key, resources);
    }
  }
  return new Map([...byAction.keys()].sort().map(a => [a, [...byAction.get(a)!].sort()]));
}

function uniqueSorted(actions: string[]): string[] {
  const seen = new Map<string, string>();
  for (const a of actions) if (!seen.has(a.toLowerCase())) seen.set(a.toLowerCase(), a);
  return [...seen.keys()].sort().map(k => seen.get(k)!);
}

/**
 * Reads one answer of Cloudcraft's policy endpoint (`body`: the parsed JSON; a string or undefined when it was not
 * JSON). A `policy` only when it is a plain read-only Allow policy within the caps; otherwise `unexpected`, with a
 * reason that names what was wrong.
 */
export function readLivePolicy(body: unknown): LivePolicy {
  try {
    if (body === undefined || typeof body === 'string') {
      throw new Unexpected(`the answer is not JSON${typeof body === 'string' ? ` (${quote(body.trim(), 60)})` : ''}`);
    }
    if (!isObject(body)) throw new Unexpected(`the answer is not a JSON object (${quote(body, 60)})`);
    if (body.Version !== undefined && !KNOWN_VERSIONS.includes(body.Version as string)) {
      throw new Unexpected(`the policy has the unknown Version ${quote(body.Version)}`);
    }
    const raw = body.Statement;
    if (raw === undefined || raw === null) throw new Unexpected('the policy has no Statement');
    const list = Array.isArray(raw) ? raw : [raw];
    if (list.length === 0) throw new Unexpected('the policy\'s Statement is empty');
    const statements = list.map((s, i) => readStatement(s, `statement ${i + 1}${isObject(s) && typeof s.Sid === 'string' ? ` (${quote(s.Sid, 40)})` : ''}`));
    const document: LivePolicyDocument = { Version: (body.Version as string | undefined) ?? '2012-10-17', Statement: statements };
    const actions = uniqueSorted(statements.flatMap(s => s.Action));
    if (actions.length > MAX_LIVE_ACTIONS) throw new Unexpected(`the policy has ${actions.length} actions, more than ${MAX_LIVE_ACTIONS}`);
    const chars = JSON.stringify(document).length;
    if (chars > MAX_LIVE_POLICY_CHARS) {
      throw new Unexpected(`the policy has ${chars} characters without whitespace, more than IAM's ${MAX_LIVE_POLICY_CHARS} for a role's inline policies`);
    }
    const fingerprint = createHash('sha256').update(JSON.stringify([...permissions(statements)])).digest('hex');
    return { kind: 'policy', document, actions, fingerprint };
  } catch (err) {
    if (!(err instanceof Unexpected)) throw err;
    const reason = `Cloudcraft's policy is unexpected: ${err.message}.`;
    return { kind: 'unexpected', reason: reason.length <= 300 ? reason : `${reason.slice(0, 297)}...` };
  }
}

/** The actions of a vendored policy document (lib/role/policies/*.json); throws when it is not a policy. */
export function vendoredActions(policyJson: unknown): string[] {
  const policy = readLivePolicy(policyJson);
  if (policy.kind !== 'policy') throw new Error(`The vendored policy does not read as one: ${policy.reason}`);
  return policy.actions;
}

/** Actions added (live, not deployed) and removed (deployed, not live): lowercase, sorted, duplicates ignored. */
export function policyDrift(deployed: string[], live: string[]): PolicyDrift {
  const d = new Set(deployed.map(a => a.toLowerCase()));
  const l = new Set(live.map(a => a.toLowerCase()));
  return { added: [...l].filter(a => !d.has(a)).sort(), removed: [...d].filter(a => !l.has(a)).sort() };
}

/** `policyDrift` of two documents, and which actions both have with other resources. */
export function documentDrift(deployed: LivePolicyDocument, live: LivePolicyDocument): DocumentDrift {
  const d = permissions(deployed.Statement);
  const l = permissions(live.Statement);
  const reshaped = [...l.keys()].filter(a => d.has(a) && JSON.stringify(d.get(a)) !== JSON.stringify(l.get(a)));
  return { ...policyDrift([...d.keys()], [...l.keys()]), reshaped, resourcesChanged: reshaped.length > 0 };
}

function listed(actions: string[]): string {
  const shown = actions.slice(0, 5).join(', ');
  return actions.length > 5 ? `${shown} and ${actions.length - 5} more` : shown;
}

/** One sentence: what a user of the vendored `vendoredVersion` should do about the drift of Cloudcraft's live policy. */
export function driftAdvice(kind: 'minimal', drift: PolicyDrift & { readonly resourcesChanged?: boolean }, vendoredVersion: string): string {
  const changes = [
    ...(drift.added.length > 0 ? [`adds ${listed(drift.added)}`] : []),
    ...(drift.removed.length > 0 ? [`drops ${listed(drift.removed)}`] : []),
    ...(drift.resourcesChanged ? ['changes resources'] : []),
  ];
  if (changes.length === 0) return `Cloudcraft's current ${kind} policy is the one vendored as ${vendoredVersion}: nothing to do.`;
  return `Cloudcraft's current ${kind} policy ${changes.join(' and ')} compared with version ${vendoredVersion} that this library deploys: `
    + 'update cdk-cloudcraft (a newer version may vendor it), or switch to CloudcraftAccess.readOnlyAccess(), '
    + `or let the role follow it with CloudcraftAccess.${kind}({ followLivePolicy: true }) (single account only).`;
}
