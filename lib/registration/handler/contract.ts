/**
 * What the constructs send the Cloudcraft handler: its resource types, its environment variable and the properties
 * of each resource, as CloudFormation delivers them (strings and lists of strings). Logic-free, imported by both
 * sides so that the compiler keeps them coupled, as the CDK provider framework's `consts.ts` does.
 */
import type { ApiKeyRef } from '../../runtime/api-key';

/** A registration of one role in Cloudcraft. Attribute: `RegistrationId`. */
export const REGISTRATION_TYPE = 'Custom::CloudcraftRegistration';
/** A read of the key's user's external ID and Cloudcraft's AWS account. Attributes: `ExternalId`, `AccountId`. */
export const IAM_PARAMETERS_TYPE = 'Custom::CloudcraftIamParameters';
/**
 * The handler's environment variable that lists, as JSON, the API URLs it may send the key to: those of its stack's
 * resources, fixed at synth. An event naming another URL is refused before any request.
 */
export const API_URLS_VARIABLE = 'CDK_CLOUDCRAFT_API_URLS';
export const DEFAULT_API_URL = 'https://api.cloudcraft.co';

/** What every resource carries: where the API is and where the key is. */
export interface ApiResourceProperties {
  readonly ApiUrl: string;
  readonly ApiKeySource: ApiKeyRef['source'];
  readonly ApiKeyId: string;
  /** The JSON field of the secret that holds the key, when the secret is a JSON object. */
  readonly ApiKeyField?: string;
}

/** Custom::CloudcraftIamParameters. */
export type IamParametersResourceProperties = ApiResourceProperties;

/** Custom::CloudcraftRegistration. */
export interface RegistrationResourceProperties extends ApiResourceProperties {
  /** A fixed name; or AccountNamePattern (with `{alias}`, `{accountId}`) and AccountNames (JSON: account ID to name). */
  readonly AccountName?: string;
  readonly AccountNamePattern?: string;
  readonly AccountNames?: string;
  readonly RoleArn: string;
  /** The region Cloudcraft verifies the role from. */
  readonly Region?: string;
  /** Team IDs; left out: not managed; []: shared with no team. */
  readonly ReadAccess?: string[];
  readonly WriteAccess?: string[];
  readonly RemovalPolicy: 'destroy' | 'retain';
  readonly RemoveAdopted: 'true' | 'false';
  /** The external ID the role trusts. */
  readonly ExternalId?: string;
}
