/**
 * The contract between `CloudcraftOrganizationIntegration` and its registrar function: what the construct sends it.
 * Logic-free and imported by both sides, so that the compiler enforces the coupling (as the CDK provider framework's
 * consts.ts does).
 *
 * What decides where the API key goes, and which state the registrar owns, is in its environment: fixed at synth,
 * small (Lambda allows 4 KB for all variables), and out of reach of an event. What the Organization is (OUs, names,
 * team access: tens of KB in a large Organization) comes with each deployment in the properties of the registrar's
 * custom resource, which the registrar keeps in its ledger table.
 */
import type { ApiKeyRef } from '../../runtime/api-key';

export { IAM_PARAMETERS_TYPE } from '../../registration/handler/contract';

export const ENVIRONMENT_VARIABLE = 'CDK_CLOUDCRAFT_REGISTRAR';
/** The registrar's resource: Create and Update record the settings and reconcile; Delete deregisters what it owns. */
export const REGISTRAR_TYPE = 'Custom::CloudcraftOrganizationRegistrar';

export interface RegistrarEnvironment {
  readonly apiUrl: string;
  readonly apiKey: ApiKeyRef;
  readonly ledgerTable: string;
  readonly stackSetName: string;
  /** The stack the registrar belongs to: CloudFormation events of any other stack are refused. */
  readonly stackId: string;
  readonly metricsNamespace: string;
}

/** Properties of the registrar's resource, as the construct writes them (CloudFormation delivers every value as a string). */
export interface RegistrarResourceProperties {
  /** The settings (CloudFormation delivers their numbers and booleans as strings). */
  readonly Settings: RegistrarSettings;
  /** OU or root IDs (a deploy-time list is resolved by CloudFormation); their nested OUs are included. */
  readonly Targets: string[];
  /** The external ID of the key's user, which the member roles trust. */
  readonly ExternalId: string;
  /** The registrar's environment as JSON: a change of it (another key or API) is an Update, which reconciles at once. */
  readonly Environment: string;
}

export interface TeamAccessSettings {
  /** Team IDs (bare); absent: not managed. */
  readonly read?: string[];
  readonly write?: string[];
}

export interface RegistrarSettings {
  readonly callAs: 'SELF' | 'DELEGATED_ADMIN';
  readonly homeRegion: string;
  readonly accountFilter?: { readonly type: 'INTERSECTION' | 'DIFFERENCE'; readonly accounts: string[] };
  /** The Cloudcraft role in member accounts: `arn:<partition>:iam::<account>:role<path><name>`. */
  readonly role: { readonly partition: string; readonly path: string; readonly name: string };
  /** The account this registrar runs in, which gets its own Cloudcraft role (StackSets never deploy there). */
  readonly thisAccount?: { readonly accountId: string };
  /** `{name}` and `{accountId}` are replaced; `names` by account ID take precedence. */
  readonly naming: { readonly pattern: string; readonly names: Record<string, string> };
  /** For every account, and by OU (an account gets its nearest listed OU's; a field the OU leaves out falls back). */
  readonly access: TeamAccessSettings & { readonly byOu?: Record<string, TeamAccessSettings> };
  readonly graceMs: number;
  /** Region Cloudcraft verifies roles from; Cloudcraft's default (us-east-1) when absent. */
  readonly verificationRegion?: string;
  /** The member roles have Cloudcraft's minimal policy (vendored): read the live one daily and report a change. */
  readonly policyCheck?: boolean;
}

/**
 * The most bytes the resource's properties may take. CloudFormation sends an Update with the new properties and the
 * old ones; Lambda takes 1 MB for an asynchronous invocation today (API reference, Invoke:
 * https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html) and took 256 KB before (still the figure of
 * InvokeAsync, and CloudFormation's events met it): twice this, and the event's other fields (its pre-signed
 * ResponseURL, about 1.5 KB, and the rest), fit in 262,144 bytes. Checked at synth.
 */
export const MAX_PROPERTIES_BYTES = 125_000;

/**
 * The CloudWatch Logs Insights query of the accounts not registered, and why, over the registrar's log group (its
 * dashboard and saved query). It rests on the registrar's log lines: JSON with `level`, `msg` and, for one account,
 * `accountId` and `reason` or `why`. For each account, its latest line is kept when it was not at info level (a
 * refusal, a conflict, a back-off, a failed stack instance, a key of another user).
 */
export const ACCOUNTS_NOT_REGISTERED_QUERY = [
  'fields @timestamp, accountId, level, msg, coalesce(reason, why) as cause',
  'filter ispresent(accountId)',
  'stats latest(level) as lastLevel, latest(msg) as problem, latest(cause) as reason, max(@timestamp) as at by accountId',
  'filter lastLevel != "info"',
  'sort at desc',
].join('\n| ');
