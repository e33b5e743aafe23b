import { Duration, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { CloudcraftAccess } from './access';
import { acknowledge } from '../private/acknowledge';
import { LivePolicyUse } from '../private/live-policy-use';
import {
  CLOUDCRAFT_AWS_ACCOUNT_ID, CloudcraftValidationError, validateAccountId, validateExternalId, validatePartition,
  validateRoleName, validateRolePath,
} from '../private/validate';

/** A resource as CloudFormation gets it (the role's, to read its boundary as rendered). */
type RenderedTemplate = { Resources?: Record<string, { Properties?: Record<string, unknown> }> };

/** Cloudcraft roles with a fixed name, per stack (IAM role names are unique in an account). */
const NAMED_ROLES = new WeakMap<Stack, Map<string, string>>();

/**
 * Options of the Cloudcraft role, shared by every construct that creates one.
 */
export interface CloudcraftRoleOptions {
  /**
   * What the role may read.
   *
   * @default CloudcraftAccess.readOnlyAccess() - the AWS managed `ReadOnlyAccess`, Cloudcraft's default
   */
  readonly access?: CloudcraftAccess;

  /**
   * The AWS account Cloudcraft assumes the role from: the `accountId` of GET /aws/account/iamParameters.
   * Trusted as `arn:<partition>:iam::<account>:root`.
   *
   * @default '968898580625' - Cloudcraft's production account
   */
  readonly cloudcraftAwsAccountId?: string;

  /**
   * The role name, or `PhysicalName.GENERATE_IF_NEEDED` to let CloudFormation generate one (as for any CDK
   * resource). IAM role names are unique in an account, so the default also keeps a second copy of the role
   * (another stack, another region) from being created by mistake.
   *
   * @default 'cloudcraft' - the name Cloudcraft's console suggests
   */
  readonly roleName?: string;

  /**
   * The IAM path of the role.
   *
   * @default '/'
   */
  readonly path?: string;

  /**
   * A permissions boundary for the role.
   *
   * @default - no permissions boundary
   */
  readonly permissionsBoundary?: iam.IManagedPolicy;

  /**
   * The role description.
   *
   * @default - says that Cloudcraft assumes the role to draw diagrams, and from which account
   */
  readonly description?: string;

  /**
   * The longest session Cloudcraft can get when it assumes the role (1 to 12 hours).
   *
   * @default Duration.hours(1) - what Cloudcraft's console sets up
   */
  readonly maxSessionDuration?: Duration;
}

/**
 * Properties of `CloudcraftRole`.
 */
export interface CloudcraftRoleProps extends CloudcraftRoleOptions {
  /**
   * The external ID of the Cloudcraft user who owns the API key that registers the role: a lowercase UUID,
   * shown in Cloudcraft's "Add AWS account" dialog and returned by GET /aws/account/iamParameters.
   * May be a token (for example a value read at deploy time); it is then checked by IAM and Cloudcraft only.
   */
  readonly externalId: string;
}

/**
 * The IAM role Cloudcraft assumes to read an account: it trusts Cloudcraft's AWS account with `sts:AssumeRole`
 * guarded by the external ID (no MFA condition: this is machine-to-machine access), and grants read access
 * chosen with `CloudcraftAccess`.
 *
 * @example
 * import { CloudcraftAccess, CloudcraftRole } from 'cdk-cloudcraft';
 *
 * new CloudcraftRole(this, 'Cloudcraft', {
 *   externalId: '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0',
 *   access: CloudcraftAccess.minimal(),
 * });
 */
export class CloudcraftRole extends Construct {
  /** The role. */
  public readonly role: iam.IRole;
  /** The ARN of the role, to register with Cloudcraft. */
  public readonly roleArn: string;
  /** The name of the role. */
  public readonly roleName: string;
  /**
   * How the role's access uses Cloudcraft's live policy (`none`, `check`, `follow`).
   * @internal
   */
  public readonly _livePolicyUse: LivePolicyUse;
  /** The construct that applies the live policy (followLivePolicy). */
  private followedBy?: string;

  constructor(scope: Construct, id: string, props: CloudcraftRoleProps) {
    super(scope, id);

    const cloudcraftAccountId = props.cloudcraftAwsAccountId ?? CLOUDCRAFT_AWS_ACCOUNT_ID;
    validatePartition(this);
    validateExternalId(this, 'externalId', props.externalId);
    validateAccountId(this, 'cloudcraftAwsAccountId', cloudcraftAccountId);
    const roleName = props.roleName ?? 'cloudcraft';
    validateRoleName(this, 'roleName', roleName);
    validateRolePath(this, 'path', props.path);
    if (roleName !== undefined && !Token.isUnresolved(roleName)) {
      const stack = Stack.of(this);
      const named = NAMED_ROLES.get(stack) ?? new Map<string, string>();
      NAMED_ROLES.set(stack, named);
      const other = named.get(roleName);
      if (other !== undefined) {
        throw new CloudcraftValidationError(this, 'roleName', roleName,
          `is already the name of the Cloudcraft role ${other} in this stack, and IAM role names are unique in an account`,
          'Give one of them another roleName (or PhysicalName.GENERATE_IF_NEEDED); a CloudcraftOrganizationIntegration already connects its own account, so set includeThisAccount: false there or drop the other integration.');
      }
      named.set(roleName, this.node.path);
    }

    const access = props.access ?? CloudcraftAccess.readOnlyAccess();
    const binding = access._bind(this);
    if (binding.permissionsBoundary && props.permissionsBoundary) {
      throw new CloudcraftValidationError(this, 'permissionsBoundary', '(a policy)',
        'cannot be used with CloudcraftAccess.minimal({ followLivePolicy: true }), which sets AWS ReadOnlyAccess as the role\'s only boundary',
        'Leave permissionsBoundary out, or follow the vendored policy (CloudcraftAccess.minimal()) under your boundary.');
    }
    this._livePolicyUse = access._livePolicy();
    if (this._livePolicyUse === 'follow') {
      // Only an integration's function can apply the live policy: a role that nobody follows would have no permissions.
      // And the boundary must be the one rendered: an aspect (PermissionsBoundary.of(app).apply(...)) may replace it.
      this.node.addValidation({
        validate: () => {
          // As rendered, property overrides included (PermissionsBoundary.of(...).apply() overrides the property).
          const cfn = this.role.node.defaultChild as unknown as { _toCloudFormation(): RenderedTemplate };
          const rendered = Stack.of(this).resolve(cfn._toCloudFormation()) as RenderedTemplate;
          const boundary = JSON.stringify(Object.values(rendered.Resources ?? {})[0]?.Properties?.PermissionsBoundary ?? null);
          if (!boundary.includes(':iam::aws:policy/ReadOnlyAccess')) {
            return [`${this.node.path}: CloudcraftAccess.minimal({ followLivePolicy: true }) needs AWS ReadOnlyAccess as the role's permissions boundary, `
              + `and the role renders ${boundary}: something replaced it (PermissionsBoundary.of(...).apply()?). Exclude this role from it, or use CloudcraftAccess.minimal().`];
          }
          return [];
        },
      });
      this.node.addValidation({
        validate: () => this.followedBy ? [] : [`${this.node.path}: CloudcraftAccess.minimal({ followLivePolicy: true }) needs a function that applies `
          + 'the live policy: use it with CloudcraftIntegration (one account). A CloudcraftRole on its own, or the member roles of an Organization, '
          + 'get the vendored policy with CloudcraftAccess.minimal() (the Organization\'s registrar reports when Cloudcraft\'s policy changes).'],
      });
    }

    const accountText = Token.isUnresolved(cloudcraftAccountId) ? 'Cloudcraft\'s AWS account' : `Cloudcraft's AWS account ${cloudcraftAccountId}`;
    const role = new iam.Role(this, 'Role', {
      roleName,
      path: props.path,
      description: props.description ?? `Assumed by ${accountText} to draw diagrams of this account (${access.description}). Managed by cdk-cloudcraft.`,
      // AccountPrincipal renders arn:${AWS::Partition}:iam::<account>:root; externalIds adds StringEquals sts:ExternalId.
      assumedBy: new iam.AccountPrincipal(cloudcraftAccountId),
      externalIds: [props.externalId],
      maxSessionDuration: props.maxSessionDuration ?? Duration.hours(1),
      permissionsBoundary: binding.permissionsBoundary ?? props.permissionsBoundary,
      managedPolicies: binding.managedPolicies,
    });
    acknowledge(role, binding.roleAcknowledgements);

    this.role = role;
    this.roleArn = role.roleArn;
    this.roleName = role.roleName;
  }

  /**
   * Says that `by` applies Cloudcraft's live policy to this role (followLivePolicy).
   * @internal
   */
  public _followedBy(by: string): void {
    this.followedBy = by;
  }
}
