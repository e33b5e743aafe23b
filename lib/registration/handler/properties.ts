/**
 * Resource properties of the Cloudcraft custom resources (contract.ts), parsed from what CloudFormation sends
 * (every value a string, arrays of strings). Tolerant of hand-written templates: optional fields may be missing,
 * booleans may be real booleans and team lists JSON or comma-separated strings. Pure: no I/O.
 */
import { DEFAULT_API_URL, IAM_PARAMETERS_TYPE, REGISTRATION_TYPE, RegistrationResourceProperties } from './contract';
import type { ApiKeyRef } from '../../runtime/api-key';
import { ApiUrlError, normalizeApiUrl as normalize } from '../../runtime/api-url';

export type { ApiKeyRef };

export interface CommonProps {
  readonly apiUrl: string;
  readonly apiKey: ApiKeyRef;
}

/** How to name an account whose name is not fixed: a pattern, and names by account ID that take precedence. */
export interface AccountNaming {
  /** `{alias}` and `{accountId}` are replaced. */
  readonly pattern: string;
  readonly names: Record<string, string>;
}

export interface RegistrationProps extends CommonProps {
  readonly kind: 'registration';
  /** The name in Cloudcraft; derived from `naming` when that is given instead. */
  readonly accountName: string;
  readonly naming?: AccountNaming;
  readonly roleArn: string;
  /** Region Cloudcraft verifies the role from; Cloudcraft's default (us-east-1) when absent. */
  readonly region?: string;
  /** `team/<id>` entries, or null for Cloudcraft's default. */
  readonly readAccess: string[] | null;
  readonly writeAccess: string[] | null;
  readonly removalPolicy: 'destroy' | 'retain';
  /** Remove a registration that existed before the stack (adopted) when the resource is deleted. */
  readonly removeAdopted: boolean;
  /** The external ID the role trusts: a registration of the role made with another one is not adopted. Absent in old events. */
  readonly externalId?: string;
}

export interface IamParametersProps extends CommonProps {
  readonly kind: 'iam-parameters';
}

export type CloudcraftProps = RegistrationProps | IamParametersProps;

export class PropertyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PropertyError';
  }
}

/** The properties as received: the contract's names, any values (older stacks and hand-written templates vary). */
type Raw = Partial<Record<keyof RegistrationResourceProperties, unknown>> | undefined;
type Key = keyof RegistrationResourceProperties;

function str(raw: Raw, key: Key): string | undefined {
  const value = raw?.[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') return String(value);
  return value;
}

function required(raw: Raw, key: Key): string {
  const value = str(raw, key)?.trim();
  if (value) return value;
  throw new PropertyError(`property ${key} is missing`);
}

function bool(raw: Raw, key: Key, fallback: boolean): boolean {
  const value = raw?.[key];
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value === 'boolean') return value;
  const text = String(value).toLowerCase();
  if (text === 'true') return true;
  if (text === 'false') return false;
  throw new PropertyError(`property ${key} must be true or false, got ${JSON.stringify(value)}`);
}

/** A list of team IDs as `team/<id>`: an array, a JSON array string, or a comma-separated string; absent = null. */
function teams(raw: Raw, key: Key): string[] | null {
  let value = raw?.[key];
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') {
    const text = value.trim();
    if (text === '') return [];
    try {
      value = text.startsWith('[') ? JSON.parse(text) : text.split(',');
    } catch {
      throw new PropertyError(`property ${key} is not a JSON list of team IDs`);
    }
  }
  if (!Array.isArray(value)) throw new PropertyError(`property ${key} must be a list of team IDs`);
  const entries = value.map(v => String(v).trim()).filter(v => v !== '');
  return [...new Set(entries.map(v => (v.includes('/') ? v : `team/${v}`)))].sort();
}

function apiKey(raw: Raw): ApiKeyRef {
  const source = (str(raw, 'ApiKeySource') ?? 'secretsmanager').toLowerCase();
  if (source !== 'secretsmanager' && source !== 'ssm') {
    throw new PropertyError(`property ApiKeySource must be secretsmanager or ssm, got ${JSON.stringify(source)}`);
  }
  const field = str(raw, 'ApiKeyField');
  return {
    source,
    id: required(raw, 'ApiKeyId'),
    ...(field ? { field } : {}),
  };
}

/** The API URL normalised (runtime/api-url), or a PropertyError. */
export function normalizeApiUrl(text: string): string {
  try {
    return normalize(text);
  } catch (err) {
    throw err instanceof ApiUrlError ? new PropertyError(err.message) : err;
  }
}

/**
 * The API URLs the handler may call, normalised, from its environment variable (JSON list). Absent (a function
 * deployed without it): Cloudcraft's own API only. Entries that are not URLs are left out.
 */
export function allowedApiUrls(text: string | undefined): Set<string> {
  let listed: unknown;
  try {
    listed = text === undefined ? [DEFAULT_API_URL] : JSON.parse(text);
  } catch {
    listed = [];
  }
  const urls = new Set<string>();
  for (const entry of Array.isArray(listed) ? listed : []) {
    try {
      urls.add(normalizeApiUrl(String(entry)));
    } catch {
      // not a URL the handler could call anyway
    }
  }
  return urls;
}

function apiUrl(raw: Raw): string {
  return normalizeApiUrl(str(raw, 'ApiUrl') ?? DEFAULT_API_URL);
}

/** What every event of the library's functions carries (ApiResourceProperties): the API URL and the key's reference. */
export function commonProps(raw: Record<string, unknown> | undefined): CommonProps {
  return { apiUrl: apiUrl(raw), apiKey: apiKey(raw) };
}

function naming(raw: Raw): { accountName: string; naming?: AccountNaming } {
  const pattern = str(raw, 'AccountNamePattern')?.trim();
  if (!pattern) return { accountName: required(raw, 'AccountName') };
  let names: unknown = {};
  const text = str(raw, 'AccountNames')?.trim();
  if (text) {
    try {
      names = JSON.parse(text);
    } catch {
      throw new PropertyError('property AccountNames is not a JSON object of account IDs to names');
    }
  }
  if (!names || typeof names !== 'object' || Array.isArray(names)) throw new PropertyError('property AccountNames is not a JSON object of account IDs to names');
  // The name is resolved at run time (it may need the account alias); until then it is the pattern.
  return { accountName: pattern, naming: { pattern, names: names as Record<string, string> } };
}

/** The properties of one of the two resource types the constructs make; the type says which (no other is served). */
export function parseProps(resourceType: string | undefined, raw: Record<string, unknown> | undefined): CloudcraftProps {
  if (resourceType === IAM_PARAMETERS_TYPE) return { kind: 'iam-parameters', apiUrl: apiUrl(raw), apiKey: apiKey(raw) };
  if (resourceType !== REGISTRATION_TYPE) {
    throw new PropertyError(`resource type ${JSON.stringify(resourceType)} is not served here (${REGISTRATION_TYPE} or ${IAM_PARAMETERS_TYPE})`);
  }
  const kind = 'registration';
  const removalPolicy = (str(raw, 'RemovalPolicy') ?? 'destroy').toLowerCase();
  if (removalPolicy !== 'destroy' && removalPolicy !== 'retain') {
    throw new PropertyError(`property RemovalPolicy must be destroy or retain, got ${JSON.stringify(removalPolicy)}`);
  }
  const region = str(raw, 'Region')?.trim();
  const externalId = str(raw, 'ExternalId')?.trim();
  return {
    kind,
    apiUrl: apiUrl(raw),
    apiKey: apiKey(raw),
    ...naming(raw),
    roleArn: required(raw, 'RoleArn'),
    ...(region ? { region } : {}),
    readAccess: teams(raw, 'ReadAccess'),
    writeAccess: teams(raw, 'WriteAccess'),
    removalPolicy,
    removeAdopted: bool(raw, 'RemoveAdopted', false),
    ...(externalId ? { externalId } : {}),
  };
}
