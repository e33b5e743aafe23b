/**
 * The registrar's configuration: its environment (contract.ts), and the settings each deployment sends in the
 * properties of its resource, which the ledger keeps. Parsed strictly: a registrar that cannot read its
 * configuration does nothing. Pure.
 */
import { ENVIRONMENT_VARIABLE, RegistrarEnvironment, RegistrarSettings } from './contract';
import { accountName } from '../../runtime/registration';

/** What a deployment recorded: the settings, the targets and the external ID the member roles trust. */
export interface Deployment {
  readonly settings: RegistrarSettings;
  readonly targets: string[];
  readonly externalId?: string;
  /** The CloudFormation requests recorded lately, and when the last was made: a late or repeated delivery is not. */
  readonly requestIds?: string[];
  readonly requestedAt?: number;
}

/** Everything a run needs. */
export type RegistrarConfig = RegistrarEnvironment & RegistrarSettings & { readonly targets: string[]; readonly externalId?: string };

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function parseEnvironment(text: string | undefined): RegistrarEnvironment {
  if (!text) throw new ConfigError(`${ENVIRONMENT_VARIABLE} is not set`);
  const env = parseJson(text, ENVIRONMENT_VARIABLE) as RegistrarEnvironment;
  const missing = (['apiUrl', 'apiKey', 'ledgerTable', 'stackSetName', 'stackId', 'metricsNamespace'] as const).filter(k => !env[k]);
  if (missing.length > 0) throw new ConfigError(`${ENVIRONMENT_VARIABLE} lacks ${missing.join(', ')}`);
  // The key goes with every request: https only, except to this machine (local emulators). The construct checks this
  // at synth; a deploy-time apiUrl (a parameter) only here.
  if (!/^(https:\/\/|http:\/\/(127\.0\.0\.1|localhost)(:|\/|$))/.test(env.apiUrl)) throw new ConfigError(`apiUrl ${env.apiUrl} is not https://`);
  return { ...env, apiUrl: env.apiUrl.replace(/\/+$/, '') };
}

/** The deployment from the registrar resource's properties (every value a string, as CloudFormation sends them). */
export function parseDeployment(properties: Record<string, unknown> | undefined): Deployment {
  const p = properties ?? {};
  if (!p.Settings || typeof p.Settings !== 'object') throw new ConfigError('the resource has no Settings');
  const settings = parseSettings(p.Settings);
  const rawTargets: unknown = p.Targets;
  const targets = (Array.isArray(rawTargets) ? rawTargets : typeof rawTargets === 'string' ? rawTargets.split(',') : [])
    .map(t => String(t).trim()).filter(t => t !== '');
  if (targets.length === 0) throw new ConfigError('the resource has no Targets (organizationalUnitIds)');
  for (const target of targets) {
    if (!/^(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})$/.test(target)) throw new ConfigError(`target ${target} is not an OU or root ID`);
  }
  const externalId = typeof p.ExternalId === 'string' && p.ExternalId !== '' ? p.ExternalId : undefined;
  return { settings, targets, externalId };
}

/** Checks a deployment read back from the ledger (written by parseDeployment, or by hand). */
export function isDeployment(value: unknown): value is Deployment {
  const d = value as Deployment | undefined;
  if (!d || !Array.isArray(d.targets) || typeof d.settings !== 'object') return false;
  try {
    parseSettings(d.settings);
    return true;
  } catch {
    return false;
  }
}

export function configOf(env: RegistrarEnvironment, deployment: Deployment): RegistrarConfig {
  return { ...env, ...deployment.settings, targets: deployment.targets, externalId: deployment.externalId };
}

function parseSettings(value: unknown): RegistrarSettings {
  // An empty object may not survive CloudFormation's handling of properties (not documented): absent is empty.
  const given = value as Partial<RegistrarSettings>;
  const s = {
    ...given,
    access: given?.access ?? {},
    naming: given?.naming ? { ...given.naming, names: given.naming.names ?? {} } : given?.naming,
  } as RegistrarSettings;
  const missing = (['callAs', 'homeRegion', 'role', 'naming', 'access', 'graceMs'] as const).filter(k => s?.[k] === undefined || s[k] === null);
  if (missing.length > 0) throw new ConfigError(`Settings lacks ${missing.join(', ')}`);
  if (s.callAs !== 'SELF' && s.callAs !== 'DELEGATED_ADMIN') throw new ConfigError(`callAs ${String(s.callAs)} is not SELF or DELEGATED_ADMIN`);
  const graceMs = Number(s.graceMs);
  if (!Number.isFinite(graceMs) || graceMs < 0) throw new ConfigError(`graceMs ${String(s.graceMs)} is not a duration`);
  if (typeof s.naming.pattern !== 'string' || typeof s.naming.names !== 'object') throw new ConfigError('naming has no pattern or names');
  // CloudFormation delivers a boolean as a string.
  const policyCheck = (s.policyCheck as unknown) === true || (s.policyCheck as unknown) === 'true';
  return { ...s, graceMs, policyCheck };
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ConfigError(`${what} is not JSON`);
  }
}

export function roleArnOf(config: RegistrarConfig, accountId: string): string {
  return `arn:${config.role.partition}:iam::${accountId}:role${config.role.path}${config.role.name}`;
}

/** `team/<id>` entries, sorted; undefined stays undefined (not managed). */
export function teamEntries(teams: string[] | undefined): string[] | undefined {
  if (teams === undefined) return undefined;
  return [...new Set(teams.map(t => (t.includes('/') ? t : `team/${t}`)))].sort();
}

/** The account's name in Cloudcraft: `{name}` is its name in AWS Organizations. */
export function nameOf(config: RegistrarConfig, accountId: string, orgName: string | undefined): string {
  return accountName(config.naming, accountId, { name: orgName || accountId });
}
