/**
 * The registrar's configuration: one JSON environment variable (CDK_CLOUDCRAFT_REGISTRAR) written by
 * CloudcraftOrganizationIntegration. Parsed strictly: a registrar that cannot read its configuration does nothing.
 */
import { ApiKeyRef } from '../../runtime/api-key';

export interface RegistrarConfig {
  readonly apiUrl: string;
  readonly apiKey: ApiKeyRef;
  /** The external ID of the key's user (the member roles trust it). */
  readonly externalId?: string;
  readonly ledgerTable: string;
  readonly stackSetName: string;
  readonly callAs: 'SELF' | 'DELEGATED_ADMIN';
  readonly homeRegion: string;
  /** OU or root IDs; their nested OUs are included. Written comma-separated when the OUs are a deploy-time list. */
  readonly targets: string[];
  readonly accountFilter?: { readonly type: 'INTERSECTION' | 'DIFFERENCE'; readonly accounts: string[] };
  /** The Cloudcraft role in member accounts: `arn:<partition>:iam::<account>:role<path><name>`. */
  readonly role: { readonly partition: string; readonly path: string; readonly name: string };
  /** The account this registrar runs in, and its own Cloudcraft role (not a StackSet instance; absent: named as the members'). */
  readonly thisAccount?: { readonly accountId: string; readonly roleArn?: string };
  /** `{name}` and `{accountId}` are replaced; `names` by account ID take precedence. */
  readonly naming: { readonly pattern: string; readonly names: Record<string, string> };
  /** Team IDs (bare); null/undefined: not managed. `byOu` applies to accounts in (or below) an OU, nearest first. */
  readonly access: {
    readonly read?: string[] | null;
    readonly write?: string[] | null;
    readonly byOu?: Record<string, { readonly read?: string[] | null; readonly write?: string[] | null }>;
  };
  readonly graceMs: number;
  readonly verificationRegion?: string;
  readonly metricsNamespace: string;
  /** This function's name, to continue a run that stopped at its deadline. */
  readonly functionName?: string;
}

export const CONFIG_VARIABLE = 'CDK_CLOUDCRAFT_REGISTRAR';

export function parseConfig(text: string | undefined): RegistrarConfig {
  if (!text) throw new Error(`${CONFIG_VARIABLE} is not set`);
  const config = JSON.parse(text) as RegistrarConfig;
  const missing = (['apiUrl', 'apiKey', 'ledgerTable', 'stackSetName', 'callAs', 'homeRegion', 'targets', 'role', 'naming', 'access', 'graceMs', 'metricsNamespace'] as const)
    .filter(k => config[k] === undefined || config[k] === null);
  if (missing.length > 0) throw new Error(`${CONFIG_VARIABLE} lacks ${missing.join(', ')}`);
  // The key goes with every request: https only, except to this machine (local emulators). The construct checks this
  // at synth; a deploy-time apiUrl (a parameter) only here.
  if (!/^(https:\/\/|http:\/\/(127\.0\.0\.1|localhost)(:|\/|$))/.test(config.apiUrl)) throw new Error(`apiUrl ${config.apiUrl} is not https://`);
  const targets: unknown = config.targets;
  if (typeof targets === 'string') return { ...config, targets: targets.split(',').map(t => t.trim()).filter(t => t !== '') };
  return config;
}

export function roleArnOf(config: RegistrarConfig, accountId: string): string {
  return `arn:${config.role.partition}:iam::${accountId}:role${config.role.path}${config.role.name}`;
}

/** `team/<id>` entries, sorted; null stays null (not managed). */
export function teamEntries(teams: string[] | null | undefined): string[] | null {
  if (teams === undefined || teams === null) return null;
  return [...new Set(teams.map(t => (t.includes('/') ? t : `team/${t}`)))].sort();
}

export function nameOf(config: RegistrarConfig, accountId: string, orgName: string | undefined): string {
  const mapped = config.naming.names[accountId];
  if (mapped && mapped.trim() !== '') return mapped.trim();
  const name = config.naming.pattern.split('{accountId}').join(accountId).split('{name}').join(orgName || accountId).trim();
  return name === '' ? accountId : name;
}
