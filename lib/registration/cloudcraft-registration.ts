import { CustomResource, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { CloudcraftAccountName } from './account-name';
import { CloudcraftApiKey } from './api-key';
import { REGISTRATION_TYPE } from './handler/contract';
import { CloudcraftHandler, cloudcraftResource } from './handler-function';
import { CloudcraftValidationError, validateRegion } from '../private/validate';

/**
 * Where and how to register with Cloudcraft: shared by every construct that registers an account.
 */
export interface CloudcraftApiOptions {
  /**
   * The Cloudcraft API key, by reference (a Secrets Manager secret or an SSM SecureString parameter).
   */
  readonly apiKey: CloudcraftApiKey;

  /**
   * Cloudcraft's API base URL.
   *
   * @default 'https://api.cloudcraft.co' - GovCloud (Enterprise) customers get another URL from Cloudcraft support
   */
  readonly apiUrl?: string;
}

/**
 * Options of a Cloudcraft registration, shared by every construct that registers one account.
 */
export interface CloudcraftRegistrationOptions extends CloudcraftApiOptions {
  /**
   * The account's name in Cloudcraft: `CloudcraftAccountName.of('production')`, or worked out at deploy time
   * (`fromAlias()`, `fromPattern('aws/{alias}')`).
   */
  readonly accountName: CloudcraftAccountName;

  /**
   * Cloudcraft teams that may read the account's diagrams (team IDs, from GET /team). An empty list shares with no
   * team; a list left out is not managed (as in `CloudcraftOrganizationIntegration`).
   *
   * @default - not managed: Cloudcraft's default for a new registration; an existing one keeps the teams it has
   * (removing the list from the code later leaves the teams as they are: set `[]` to unshare)
   */
  readonly readAccessTeams?: string[];

  /**
   * Cloudcraft teams that may edit the account's settings in Cloudcraft (team IDs). An empty list shares with no
   * team; a list left out is not managed.
   *
   * @default - not managed: Cloudcraft's default for a new registration; an existing one keeps the teams it has
   * (removing the list from the code later leaves the teams as they are: set `[]` to unshare)
   */
  readonly writeAccessTeams?: string[];

  /**
   * The region Cloudcraft verifies the role from when it is registered. Choose one your SCPs allow if they deny
   * us-east-1.
   *
   * @default - Cloudcraft's default, us-east-1
   */
  readonly verificationRegion?: string;

  /**
   * What happens to the registration when the resource is removed: `DESTROY` removes it from Cloudcraft,
   * `RETAIN` keeps it there.
   *
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Remove, on delete, a registration that existed before the stack and was adopted (found with the same role
   * ARN at create time). By default such a registration is given back its original name and team access when the
   * stack is deleted or rolled back (the stack takes them over while it owns the registration).
   *
   * @default false
   */
  readonly removeAdoptedRegistration?: boolean;
}

/**
 * Properties of `CloudcraftRegistration`.
 */
export interface CloudcraftRegistrationProps extends CloudcraftRegistrationOptions {
  /**
   * The role Cloudcraft assumes (created elsewhere, for example by `CloudcraftRole`).
   */
  readonly role: iam.IRole;

  /**
   * The external ID the role trusts. A registration of the role that already exists
   * in Cloudcraft with another external ID (another Cloudcraft user's) cannot work: with this given, the deployment
   * fails with that reason instead of adopting it.
   *
   * @default - not checked
   */
  readonly externalId?: string;
}


function validateTeams(scope: Construct, prop: string, teams: string[] | undefined): void {
  for (const team of teams ?? []) {
    if (Token.isUnresolved(team)) continue;
    if (!/^[A-Za-z0-9_-]+$/.test(team)) {
      throw new CloudcraftValidationError(scope, prop, team, 'is not a Cloudcraft team ID',
        'Give the bare team ID (the "id" of GET /team), without a "team/" prefix.');
    }
  }
}

/**
 * Registers an existing IAM role with Cloudcraft as an AWS account, keeps the registration current when its
 * name, role or team access change, and removes it when the resource is deleted (per `removalPolicy`).
 * A registration of the same role that already exists is adopted instead of duplicated.
 */
export class CloudcraftRegistration extends Construct {
  /** The ID of the AWS account in Cloudcraft. */
  public readonly registrationId: string;
  /** The custom resource. */
  public readonly resource: CustomResource;
  /**
   * The key and API it registers with, and the AWS account of its role (for `CloudcraftDiagramSource`).
   * @internal
   */
  public readonly _connection: CloudcraftConnection;

  constructor(scope: Construct, id: string, props: CloudcraftRegistrationProps) {
    super(scope, id);

    if (!props.accountName) {
      throw new CloudcraftValidationError(this, 'accountName', null, 'is missing',
        'Give CloudcraftAccountName.of(\'<name>\') for a fixed name, or CloudcraftAccountName.fromAlias() for the account\'s alias.');
    }
    const naming = props.accountName._bind(this);
    validateTeams(this, 'readAccessTeams', props.readAccessTeams);
    validateTeams(this, 'writeAccessTeams', props.writeAccessTeams);
    validateRegion(this, 'verificationRegion', props.verificationRegion,
      'Give a region name such as "eu-west-1" that your SCPs allow, or leave it out for us-east-1.');
    if (naming.needsOrganizationName) {
      throw new CloudcraftValidationError(this, 'accountName', naming.pattern, 'uses {name}, the account\'s name in AWS Organizations, which only the Organization registrar reads',
        'Use {alias} or {accountId}, or CloudcraftAccountName.of(...) for a fixed name.');
    }
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.DESTROY;
    if (removalPolicy !== RemovalPolicy.DESTROY && removalPolicy !== RemovalPolicy.RETAIN) {
      throw new CloudcraftValidationError(this, 'removalPolicy', removalPolicy, 'is not supported',
        'Use RemovalPolicy.DESTROY (remove the registration from Cloudcraft) or RemovalPolicy.RETAIN (keep it).');
    }

    this.resource = cloudcraftResource(this, REGISTRATION_TYPE, props, {
      AccountName: naming.fixed,
      AccountNamePattern: naming.pattern,
      AccountNames: Object.keys(naming.names).length > 0 ? Stack.of(this).toJsonString(naming.names) : undefined,
      RoleArn: props.role.roleArn,
      Region: props.verificationRegion,
      ReadAccess: props.readAccessTeams,
      WriteAccess: props.writeAccessTeams,
      RemovalPolicy: removalPolicy === RemovalPolicy.RETAIN ? 'retain' : 'destroy',
      RemoveAdopted: props.removeAdoptedRegistration ? 'true' : 'false',
      ExternalId: props.externalId,
    });
    if (naming.needsAlias) CloudcraftHandler.of(this).allowReadingAccountAlias();
    // The role (with its policies) and the function's permissions exist before Cloudcraft is asked to verify it.
    this.resource.node.addDependency(props.role);

    this.registrationId = this.resource.getAttString('RegistrationId');
    this._connection = { apiKey: props.apiKey, apiUrl: props.apiUrl, accountId: props.role.env.account };
  }
}

/**
 * What another construct of this library needs to call Cloudcraft as a registration does.
 * @internal
 */
export interface CloudcraftConnection extends CloudcraftApiOptions {
  /** The AWS account of the registration's role. */
  readonly accountId: string;
}
