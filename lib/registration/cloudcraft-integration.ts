import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { CloudcraftIamParameters } from './cloudcraft-iam-parameters';
import { CloudcraftRegistration, CloudcraftRegistrationOptions } from './cloudcraft-registration';
import { CloudcraftLivePolicy } from './live-policy';
import { CloudcraftRole, CloudcraftRoleOptions } from '../role/cloudcraft-role';

/**
 * Properties of `CloudcraftIntegration`.
 */
export interface CloudcraftIntegrationProps extends CloudcraftRoleOptions, CloudcraftRegistrationOptions {
  /**
   * The external ID of the Cloudcraft user who owns the API key.
   *
   * @default - read at deploy time from GET /aws/account/iamParameters with the API key, together with
   * Cloudcraft's AWS account ID (used unless `cloudcraftAwsAccountId` is given)
   */
  readonly externalId?: string;
}

/**
 * The whole single-account integration: the IAM role Cloudcraft assumes, and its registration with Cloudcraft.
 * After `cdk deploy` the account appears in Cloudcraft under `accountName`; changes of name, role or teams are
 * applied in place; `cdk destroy` removes it (unless `removalPolicy` is RETAIN).
 *
 * @example
 * import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
 * import { CloudcraftAccountName, CloudcraftApiKey, CloudcraftIntegration } from 'cdk-cloudcraft';
 *
 * new CloudcraftIntegration(this, 'Cloudcraft', {
 *   apiKey: CloudcraftApiKey.fromSecret(secretsmanager.Secret.fromSecretNameV2(this, 'Key', 'cloudcraft/api-key')),
 *   accountName: CloudcraftAccountName.of('production'),
 * });
 */
export class CloudcraftIntegration extends Construct {
  /** The role Cloudcraft assumes. */
  public readonly role: iam.IRole;
  /** The ARN of the role. */
  public readonly roleArn: string;
  /** The external ID in the role's trust policy. */
  public readonly externalId: string;
  /** The ID of the AWS account in Cloudcraft. */
  public readonly registrationId: string;
  /** The registration construct. */
  public readonly registration: CloudcraftRegistration;

  constructor(scope: Construct, id: string, props: CloudcraftIntegrationProps) {
    super(scope, id);

    let externalId = props.externalId;
    let cloudcraftAwsAccountId = props.cloudcraftAwsAccountId;
    if (externalId === undefined) {
      const parameters = new CloudcraftIamParameters(this, 'IamParameters', { apiKey: props.apiKey, apiUrl: props.apiUrl });
      externalId = parameters.externalId;
      cloudcraftAwsAccountId = cloudcraftAwsAccountId ?? parameters.cloudcraftAwsAccountId;
    }

    const role = new CloudcraftRole(this, 'Role', { ...props, externalId, cloudcraftAwsAccountId });
    this.registration = new CloudcraftRegistration(this, 'Registration', { ...props, role: role.role, externalId });
    // CloudcraftAccess.minimal(): Cloudcraft's live policy, checked daily (or followed).
    const livePolicy = role._livePolicyUse;
    if (livePolicy !== 'none') {
      const live = new CloudcraftLivePolicy(this, 'LivePolicy', { apiKey: props.apiKey, apiUrl: props.apiUrl, role, mode: livePolicy });
      // The role has its permissions before Cloudcraft first reads the account.
      if (live.resource) this.registration.node.addDependency(live.resource);
    }

    this.role = role.role;
    this.roleArn = role.roleArn;
    this.externalId = externalId;
    this.registrationId = this.registration.registrationId;
  }
}
