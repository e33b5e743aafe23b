import { Aws, CfnStackSet, SecretValue, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { MEMBER_HANDLER_ROLE_NAME } from './constants';
import { CloudcraftMemberIntegration, CloudcraftMemberOptions } from './member-integration';
import { buildMemberTemplate, MEMBER_PARAMETERS, MemberParameter } from './member-template';
import { acknowledge } from '../private/acknowledge';
import { CloudcraftValidationError } from '../private/validate';
import { CloudcraftApiKey } from '../registration/api-key';
import { CloudcraftIamParameters } from '../registration/cloudcraft-iam-parameters';
import { CloudcraftHandler } from '../registration/handler-function';

/**
 * Which identity CloudFormation StackSets acts as.
 */
export enum CloudcraftCallAs {
  /** The Organization's management account. */
  SELF = 'SELF',
  /** A delegated administrator account for StackSets. */
  DELEGATED_ADMIN = 'DELEGATED_ADMIN',
}

/**
 * Narrows the accounts of the target OUs.
 */
export abstract class CloudcraftAccountFilter {
  /** Only these accounts of the OUs. */
  public static onlyAccounts(...accounts: string[]): CloudcraftAccountFilter {
    return new Filter('INTERSECTION', accounts);
  }

  /** Every account of the OUs except these. */
  public static exceptAccounts(...accounts: string[]): CloudcraftAccountFilter {
    return new Filter('DIFFERENCE', accounts);
  }

  protected constructor() {}

  /** @internal */
  public abstract _bind(): { type: string; accounts: string[] };
}

class Filter extends CloudcraftAccountFilter {
  constructor(private readonly type: string, private readonly accounts: string[]) {
    super();
  }

  public _bind() {
    return { type: this.type, accounts: this.accounts };
  }
}

/** StackSet concurrency by default, chosen from the onboarding simulation (test/organization-scale.test.ts). */
const DEFAULT_MAX_CONCURRENT_ACCOUNTS = 20;

/**
 * Properties of `CloudcraftOrganizationIntegration`.
 */
export interface CloudcraftOrganizationIntegrationProps extends CloudcraftMemberOptions {
  /**
   * The secret, in this account, that holds the Cloudcraft API key. Its value is copied by CloudFormation (a
   * dynamic reference, so never into the template) into the shared secret this construct creates, encrypted
   * with a customer managed KMS key and readable only by the Organization's Cloudcraft handlers.
   */
  readonly apiKeySecret: secretsmanager.ISecret;

  /**
   * The JSON field of `apiKeySecret` that holds the key.
   *
   * @default - the whole secret string
   */
  readonly apiKeyJsonField?: string;

  /** The Organization's ID (`o-...`): only its accounts may read the shared key. */
  readonly organizationId: string;

  /** The organizational units to cover (`ou-...` or the root `r-...`); accounts that join them later are onboarded too. */
  readonly organizationalUnitIds: string[];

  /**
   * Narrows the accounts of the OUs.
   *
   * @default - every account of the OUs
   */
  readonly accountFilter?: CloudcraftAccountFilter;

  /** Whether this stack is in the management account (SELF) or a delegated administrator (DELEGATED_ADMIN). */
  readonly callAs: CloudcraftCallAs;

  /**
   * The region of the member stacks (and so of the roles' handlers and registrations).
   *
   * @default - this stack's region
   */
  readonly homeRegion?: string;

  /**
   * Deploy to accounts that join the OUs later, and remove the stack from accounts that leave.
   *
   * @default true
   */
  readonly autoDeployment?: boolean;

  /**
   * Keep the member stack (role and registration) when an account leaves the OUs.
   *
   * @default false - the stack is deleted, which deregisters the account
   */
  readonly retainStacksOnAccountRemoval?: boolean;

  /**
   * How many accounts StackSets deploys to at once. The default keeps onboarding free of failures under the
   * stricter reading of Cloudcraft's rate limit (20 requests a minute); if your key gets 20 requests per
   * 10 seconds, 80 uses about 90% of it (see README, "Scale").
   *
   * @default 20
   */
  readonly maxConcurrentAccounts?: number;

  /**
   * How many accounts may fail before StackSets stops the operation.
   *
   * @default 0
   */
  readonly failureToleranceAccounts?: number;

  /**
   * Also connect the account this stack is in (service-managed StackSets never deploy to the management account).
   *
   * @default true
   */
  readonly includeThisAccount?: boolean;

  /**
   * The StackSet's name.
   *
   * @default 'cloudcraft-integration'
   */
  readonly stackSetName?: string;
}

/**
 * Connects every account of an AWS Organization's OUs to Cloudcraft, through a service-managed StackSet from the
 * management account (or a delegated administrator): each account gets the Cloudcraft role and its registration,
 * accounts that join later are onboarded, accounts that leave are deregistered.
 *
 * The API key stays in this account: copied into a secret encrypted with a customer managed KMS key, which only
 * the Organization's Cloudcraft handler roles may read, from any member account and region.
 */
export class CloudcraftOrganizationIntegration extends Construct {
  /** The shared secret that member accounts read the key from. */
  public readonly sharedSecret: secretsmanager.Secret;
  /** The KMS key of the shared secret. */
  public readonly sharedKey: kms.Key;
  /** The StackSet. */
  public readonly stackSet: CfnStackSet;
  /** The member template, as deployed by the StackSet. */
  public readonly memberTemplate: Record<string, any>;
  /** The size of the member template body, in bytes (StackSets takes at most 51,200 inline). */
  public readonly memberTemplateBytes: number;

  constructor(scope: Construct, id: string, props: CloudcraftOrganizationIntegrationProps) {
    super(scope, id);
    const stack = Stack.of(this);

    if (!Token.isUnresolved(props.organizationId) && !/^o-[a-z0-9]{10,32}$/.test(props.organizationId)) {
      throw new CloudcraftValidationError(this, 'organizationId', props.organizationId, 'is not an AWS Organizations ID', 'Give the ID shown by "aws organizations describe-organization", such as "o-a1b2c3d4e5".');
    }
    if (props.organizationalUnitIds.length === 0) {
      throw new CloudcraftValidationError(this, 'organizationalUnitIds', props.organizationalUnitIds, 'is empty', 'Give at least one OU ID ("ou-...") or the root ID ("r-...").');
    }
    for (const ou of props.organizationalUnitIds) {
      if (!Token.isUnresolved(ou) && !/^(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})$/.test(ou)) {
        throw new CloudcraftValidationError(this, 'organizationalUnitIds', ou, 'is not an OU or root ID', 'Give IDs such as "ou-ab12-cdef3456" or "r-ab12".');
      }
    }
    const homeRegion = props.homeRegion ?? stack.region;
    if (Token.isUnresolved(homeRegion)) {
      throw new CloudcraftValidationError(this, 'homeRegion', '(unresolved)', 'is not known: the stack has no region',
        'Give homeRegion, or deploy this stack with an explicit env region.');
    }
    for (const [prop, value] of [['maxConcurrentAccounts', props.maxConcurrentAccounts], ['failureToleranceAccounts', props.failureToleranceAccounts]] as const) {
      if (value !== undefined && (!Number.isInteger(value) || value < (prop === 'maxConcurrentAccounts' ? 1 : 0))) {
        throw new CloudcraftValidationError(this, prop, value, 'is not a whole number in range', 'Give a whole number (at least 1 for maxConcurrentAccounts, 0 for failureToleranceAccounts).');
      }
    }

    // One handler role name in every account (this one included), which the shared key's policies name.
    CloudcraftHandler.of(this, { roleName: MEMBER_HANDLER_ROLE_NAME });

    // The shared copy of the key: a customer managed KMS key, readable only by the Organization's handlers.
    const handlerRoles = `arn:${Aws.PARTITION}:iam::*:role/${MEMBER_HANDLER_ROLE_NAME}`;
    const fromOrganizationHandlers = {
      StringEquals: { 'aws:PrincipalOrgID': props.organizationId },
      ArnLike: { 'aws:PrincipalArn': handlerRoles },
    };
    this.sharedKey = new kms.Key(this, 'SharedKey', {
      description: 'cdk-cloudcraft: encrypts the Cloudcraft API key shared with the Organization',
      enableKeyRotation: true,
    });
    this.sharedKey.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'CloudcraftHandlersOfTheOrganizationMayDecrypt',
      principals: [new iam.AnyPrincipal()],
      actions: ['kms:Decrypt'],
      resources: ['*'],
      conditions: { ...fromOrganizationHandlers, StringLike: { 'kms:ViaService': 'secretsmanager.*.amazonaws.com' } },
    }));
    this.sharedSecret = new secretsmanager.Secret(this, 'SharedApiKey', {
      description: 'cdk-cloudcraft: the Cloudcraft API key, readable by the Organization\'s Cloudcraft handlers',
      encryptionKey: this.sharedKey,
      secretStringValue: SecretValue.secretsManager(props.apiKeySecret.secretArn, { jsonField: props.apiKeyJsonField }),
    });
    this.sharedSecret.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'CloudcraftHandlersOfTheOrganizationMayRead',
      principals: [new iam.AnyPrincipal()],
      actions: ['secretsmanager:GetSecretValue'],
      resources: ['*'],
      conditions: fromOrganizationHandlers,
    }));
    // Referenced as members reference it (by ARN): granting through the owned key would put the handler role into
    // the key policy, a dependency cycle (key -> role -> policy -> secret -> key). The key policy above covers it.
    const sharedApiKey = CloudcraftApiKey.fromSecret(secretsmanager.Secret.fromSecretAttributes(this, 'SharedApiKeyRef', {
      secretCompleteArn: this.sharedSecret.secretArn,
      encryptionKey: kms.Key.fromKeyArn(this, 'SharedKeyRef', this.sharedKey.keyArn),
    }));
    acknowledge(this.sharedSecret, ['AwsSolutions-SMG4', 'NIST.800.53.R5-SecretsManagerRotationEnabled', 'HIPAA.Security-SecretsManagerRotationEnabled'].map(rule => ({
      id: rule,
      reason: 'A Cloudcraft API key is issued in Cloudcraft\'s web app and has no rotation API: rotate it there, update the source secret and redeploy (or put the new value here).',
    })));

    // The external ID is the same for every account (it belongs to the key's owner): read it once, here.
    const iamParameters = new CloudcraftIamParameters(this, 'IamParameters', { apiKey: sharedApiKey, apiUrl: props.apiUrl });

    if (props.includeThisAccount ?? true) {
      new CloudcraftMemberIntegration(this, 'ThisAccount', {
        ...props,
        apiKey: sharedApiKey,
        externalId: iamParameters.externalId,
        cloudcraftAccountId: props.cloudcraftAccountId ?? iamParameters.cloudcraftAccountId,
        homeRegion: undefined, // this stack is deployed once: no region guard
      });
    }

    this.memberTemplate = buildMemberTemplate(props);
    const body = JSON.stringify(this.memberTemplate);
    this.memberTemplateBytes = Buffer.byteLength(body);
    if (this.memberTemplateBytes > 51_200) {
      throw new Error(`cdk-cloudcraft: the member template is ${this.memberTemplateBytes} bytes, over StackSets' 51,200-byte limit for an inline template`);
    }

    const values: Record<MemberParameter, string> = {
      SharedSecretArn: this.sharedSecret.secretArn,
      SharedSecretKmsKeyArn: this.sharedKey.keyArn,
      ExternalId: iamParameters.externalId,
      CloudcraftAccountId: props.cloudcraftAccountId ?? iamParameters.cloudcraftAccountId,
      HomeRegion: homeRegion,
    };
    const filter = props.accountFilter?._bind();
    this.stackSet = new CfnStackSet(this, 'StackSet', {
      stackSetName: props.stackSetName ?? 'cloudcraft-integration',
      description: 'Cloudcraft integration of every account of the Organization\'s OUs (cdk-cloudcraft)',
      permissionModel: 'SERVICE_MANAGED',
      callAs: props.callAs,
      autoDeployment: { enabled: props.autoDeployment ?? true, retainStacksOnAccountRemoval: props.retainStacksOnAccountRemoval ?? false },
      capabilities: ['CAPABILITY_NAMED_IAM'],
      managedExecution: { Active: true },
      operationPreferences: {
        maxConcurrentCount: props.maxConcurrentAccounts ?? DEFAULT_MAX_CONCURRENT_ACCOUNTS,
        failureToleranceCount: props.failureToleranceAccounts ?? 0,
        regionConcurrencyType: 'PARALLEL',
      },
      parameters: MEMBER_PARAMETERS.map(key => ({ parameterKey: key, parameterValue: values[key] })),
      stackInstancesGroup: [{
        regions: [homeRegion],
        deploymentTargets: {
          organizationalUnitIds: props.organizationalUnitIds,
          ...(filter ? { accountFilterType: filter.type, accounts: filter.accounts } : {}),
        },
      }],
      templateBody: body,
    });
    // Members read the key as soon as they deploy: its policies must be in place first.
    this.stackSet.node.addDependency(this.sharedSecret, this.sharedKey);
  }
}
