import { Aws, CfnCondition, CfnStackSet, CustomResource, Duration, Fn, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { buildMemberTemplate, MEMBER_PARAMETERS, MemberParameter } from './member-template';
import {
  ACCOUNTS_NOT_REGISTERED_QUERY, ENVIRONMENT_VARIABLE, IAM_PARAMETERS_TYPE, MAX_PROPERTIES_BYTES, REGISTRAR_TYPE,
  RegistrarEnvironment, RegistrarResourceProperties, RegistrarSettings, TeamAccessSettings,
} from './registrar/contract';
import { acknowledge, findingForm } from '../private/acknowledge';
import { bundledFunction } from '../private/bundle';
import { allowPutEvent } from '../private/events';
import { ManagedPolicyRole } from '../private/managed-policy-role';
import { CLOUDCRAFT_AWS_ACCOUNT_ID, CloudcraftValidationError, functionEnvironment, validateApiUrl, validateRegion } from '../private/validate';
import { CloudcraftAccountName } from '../registration/account-name';
import { CloudcraftApiKey } from '../registration/api-key';
import { CloudcraftRole, CloudcraftRoleOptions } from '../role/cloudcraft-role';
import { POLICY_CHANGED } from '../runtime/events';

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
  public abstract _bind(): { type: 'INTERSECTION' | 'DIFFERENCE'; accounts: string[] };
}

class Filter extends CloudcraftAccountFilter {
  constructor(private readonly type: 'INTERSECTION' | 'DIFFERENCE', private readonly accounts: string[]) {
    super();
  }

  public _bind() {
    return { type: this.type, accounts: [...this.accounts] };
  }
}

/**
 * Cloudcraft team access of the accounts in (or below) one organizational unit.
 */
export interface CloudcraftTeamAccess {
  /**
   * Teams that may read the accounts' diagrams (team IDs, from GET /team). An empty list shares with no team.
   *
   * @default - not managed: Cloudcraft's default for new registrations, left as it is on existing ones
   */
  readonly readAccessTeams?: string[];

  /**
   * Teams that may edit the accounts' settings in Cloudcraft (team IDs). An empty list shares with no team.
   *
   * @default - not managed: Cloudcraft's default for new registrations, left as it is on existing ones
   */
  readonly writeAccessTeams?: string[];
}

/**
 * Properties of `CloudcraftOrganizationIntegration`.
 */
export interface CloudcraftOrganizationIntegrationProps extends CloudcraftRoleOptions, CloudcraftTeamAccess {
  /**
   * The Cloudcraft API key, by reference, in this account. Only the registrar's role may read it: no resource
   * policy names another account.
   */
  readonly apiKey: CloudcraftApiKey;

  /**
   * Cloudcraft's API base URL.
   *
   * @default 'https://api.cloudcraft.co' - GovCloud (Enterprise) customers get another URL from Cloudcraft support
   */
  readonly apiUrl?: string;

  /** The organizational units to cover (`ou-...`, or the root `r-...`), nested OUs included. */
  readonly organizationalUnitIds: string[];

  /**
   * Narrows the accounts of the OUs.
   *
   * @default - every account of the OUs
   */
  readonly accountFilter?: CloudcraftAccountFilter;

  /**
   * Whether this stack is deployed in a StackSets delegated administrator account rather than the Organization's
   * management account.
   *
   * @default false - the management account
   */
  readonly delegatedAdmin?: boolean;

  /**
   * The region of the member stacks. IAM is global: the role is created once per account, in this region.
   *
   * @default - this stack's region (for an environment-agnostic stack, the region it is deployed in)
   */
  readonly homeRegion?: string;

  /**
   * The external ID of the Cloudcraft user who owns the API key.
   *
   * @default - read at deploy time from GET /aws/account/iamParameters with the API key, together with
   * Cloudcraft's AWS account ID (used unless `cloudcraftAwsAccountId` is given)
   */
  readonly externalId?: string;

  /**
   * How each account is named in Cloudcraft: a pattern of `{name}` (the account's name in AWS Organizations) and
   * `{accountId}`, with names by account ID that take precedence.
   *
   * @default CloudcraftAccountName.fromOrganizationName()
   */
  readonly accountName?: CloudcraftAccountName;

  /**
   * Team access by organizational unit (`ou-...` to access): an account gets the access of the nearest OU above it
   * that is listed here; a field that OU leaves out, and accounts under no listed OU, get `readAccessTeams` /
   * `writeAccessTeams`. The OUs seen are the targets and the OUs below them: an OU above every target (or the
   * root) is not, so give its access as `readAccessTeams` / `writeAccessTeams`.
   *
   * @default - the same team access for every account
   */
  readonly teamAccessByOu?: { [ouId: string]: CloudcraftTeamAccess };

  /**
   * The region Cloudcraft verifies roles from when it registers them. Choose one your SCPs allow if they deny
   * us-east-1.
   *
   * @default - Cloudcraft's default, us-east-1
   */
  readonly verificationRegion?: string;

  /**
   * How often the registrar reconciles Cloudcraft with the Organization, besides the StackSet's events and each
   * deployment. A run that changes nothing costs one Cloudcraft call.
   *
   * @default events.Schedule.rate(Duration.hours(1))
   */
  readonly schedule?: events.Schedule;

  /**
   * How long an account stays registered after it stopped being desired (closed, suspended, removed, or moved out of
   * the targets), before the registrar deregisters it. An account whose stack instance failed is not deregistered
   * (a role it had is still there): a registered one stays, an unregistered one waits, and both are counted in the
   * `StackInstancesFailed` metric and the alarm.
   *
   * @default Duration.days(1)
   */
  readonly deregistrationGracePeriod?: Duration;

  /**
   * The most accounts StackSets deploys to at once, as a percentage of the target accounts (per region). The member
   * stack only creates a role. Applied with `SOFT_FAILURE_TOLERANCE`, so the concurrency is what this says whatever
   * the failures. Operation preferences do not apply to accounts that join later (auto-deployment).
   *
   * @default 100
   */
  readonly maxConcurrentPercentage?: number;

  /**
   * The percentage of accounts that may fail before StackSets stops an operation in a region.
   *
   * @default 10
   */
  readonly failureTolerancePercentage?: number;

  /**
   * Deploy to accounts that join the OUs later, and remove the stack from accounts that leave.
   *
   * @default true
   */
  readonly autoDeployment?: boolean;

  /**
   * Also connect the account this stack is deployed in, with a Cloudcraft role created in this stack (a
   * service-managed StackSet never deploys to the management account; a delegated administrator is excluded from
   * the StackSet's targets so that it is not given a second role).
   *
   * @default true
   */
  readonly includeThisAccount?: boolean;

  /**
   * A CloudWatch dashboard of the registrar (its figures over time, the alarm, and a table of the accounts not
   * registered and why, from its log group), and a saved CloudWatch Logs Insights query for that table.
   *
   * @default true
   */
  readonly dashboard?: boolean;

  /**
   * The StackSet's name.
   *
   * Changing it replaces the StackSet: CloudFormation creates the new one before it deletes the old one, so change
   * `roleName` with it (two roles of one name cannot exist in an account). The registrations are kept: the
   * registrar moves them to the new role, and the replaced registrar resource's Delete removes nothing.
   *
   * @default 'cloudcraft-integration'
   */
  readonly stackSetName?: string;

  /**
   * What happens to the registrar's ledger (the DynamoDB table of the registrations it owns) when the stack is
   * deleted. Deleting the stack first deregisters every account the ledger names; keep the table if that may not
   * finish (see docs/organization.md, "Removing the integration").
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly ledgerRemovalPolicy?: RemovalPolicy;
}

/** Lambda's maximum: a run that stops at its deadline leaves its work to the next one. */
const REGISTRAR_TIMEOUT = Duration.minutes(15);
const METRICS_NAMESPACE = 'cdk-cloudcraft';
/**
 * How long CloudFormation waits for the registrar's custom resources: CloudFormation's maximum. Create and Update are
 * answered within seconds (a run in progress only gets asked for one more); the Delete removes every registration
 * the ledger owns, and may need the hour at 20 requests per minute.
 */
const REGISTRAR_SERVICE_TIMEOUT = Duration.hours(1);


/** The alarm's period: the schedule's interval (a period without a run would be missing data), a day at most. */
function alarmPeriodOf(schedule: events.Schedule): Duration {
  const m = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(schedule.expressionString);
  if (!m) return Duration.days(1);
  const n = Number(m[1]);
  const interval = m[2].startsWith('minute') ? Duration.minutes(n) : m[2].startsWith('hour') ? Duration.hours(n) : Duration.days(n);
  return interval.toSeconds() < 3600 ? Duration.hours(1) : interval.toSeconds() > 86_400 ? Duration.days(1) : interval;
}

function teamIds(scope: Construct, prop: string, teams: string[] | undefined): string[] | undefined {
  for (const team of teams ?? []) {
    if (!Token.isUnresolved(team) && !/^[A-Za-z0-9_-]+$/.test(team)) {
      throw new CloudcraftValidationError(scope, prop, team, 'is not a Cloudcraft team ID', 'Give the bare team ID (the "id" of GET /team), without a "team/" prefix.');
    }
  }
  return teams;
}

/** What the props come to once checked: the values the resource groups are built from. */
interface OrganizationConfig {
  readonly apiUrl: string;
  readonly homeRegion: string;
  readonly naming: RegistrarSettings['naming'];
  readonly graceMs: number;
  readonly stackSetName: string;
  readonly delegatedAdmin: boolean;
  readonly callAs: RegistrarSettings['callAs'];
  readonly includeThisAccount: boolean;
  /** The member roles have the vendored minimal policy: the registrar checks the live one daily. */
  readonly policyCheck: boolean;
}

/**
 * Connects every account of an AWS Organization's OUs to Cloudcraft.
 *
 * - A service-managed StackSet gives each member account the Cloudcraft role only (no function, secret or key).
 * - One registrar in this account (the management account or the StackSets delegated administrator) is the only
 *   thing that talks to Cloudcraft: a Lambda function, the single writer by a lease in its DynamoDB ledger (one
 *   pacer for the key; no reserved concurrency needed), which also holds the registrations it owns. It reconciles on a schedule, on the StackSet's
 *   stack-instance events and on each deployment: registers new accounts, corrects names and team access, and
 *   deregisters accounts that were closed, suspended, removed or left the targets (after a grace period).
 * - The API key stays in this account, readable by the registrar's role only.
 */
export class CloudcraftOrganizationIntegration extends Construct {
  /** The StackSet that puts the Cloudcraft role in each member account. */
  public readonly stackSet: CfnStackSet;
  /** The registrar function. */
  public readonly registrar: lambda.IFunction;
  /** The ledger of the registrations the registrar owns. */
  public readonly ledger: dynamodb.ITable;
  /** In alarm while accounts stay unregistered (or the registrar stops reporting). */
  public readonly unregisteredAlarm: cloudwatch.IAlarm;
  /** The Cloudcraft role of this account (when `includeThisAccount`). */
  public readonly thisAccountRole?: CloudcraftRole;
  /** The registrar's dashboard (when `dashboard`). */
  public readonly dashboard?: cloudwatch.Dashboard;
  /**
   * The key and API the registrar uses (for `CloudcraftDiagramSource`).
   * @internal
   */
  public readonly _api: { readonly apiKey: CloudcraftApiKey; readonly apiUrl: string };

  constructor(scope: Construct, id: string, props: CloudcraftOrganizationIntegrationProps) {
    super(scope, id);
    const config = this.validate(props);
    this._api = { apiKey: props.apiKey, apiUrl: config.apiUrl };
    const ledger = this.createLedger(props);
    this.ledger = ledger;
    const { registrar, role, logGroup, continuePolicy, key, environmentJson } = this.createRegistrar(config, props.apiKey, ledger);
    this.registrar = registrar;
    const { externalId, cloudcraftAwsAccountId } = this.readIamParameters(props, config, registrar, key.id);
    if (config.includeThisAccount) {
      this.thisAccountRole = new CloudcraftRole(this, 'ThisAccountRole', { ...props, externalId, cloudcraftAwsAccountId });
    }
    this.stackSet = this.createStackSet(props, config, externalId, cloudcraftAwsAccountId);
    const reconcile = this.createReconcile(props, config, registrar, externalId, environmentJson);
    reconcile.node.addDependency(this.stackSet, continuePolicy, ledger);
    if (this.thisAccountRole) reconcile.node.addDependency(this.thisAccountRole);
    const { rules, schedule } = this.createTriggers(props, config, registrar, reconcile);
    const { alarm, metric } = this.createAlarm(config, schedule);
    this.unregisteredAlarm = alarm;
    if (props.dashboard ?? true) this.dashboard = this.createDashboard(config.stackSetName, metric, alarm, logGroup);
    // The function is invoked (by the custom resources) only once its permissions exist.
    registrar.node.addDependency(role.grantsPolicy!);
    this.acknowledgeFindings(registrar, role, logGroup, ledger, alarm, rules, config.delegatedAdmin);
  }

  /** Every prop checked at synth (Token-aware); what the resources below are built from. */
  private validate(props: CloudcraftOrganizationIntegrationProps): OrganizationConfig {
    const stack = Stack.of(this);
    const apiUrl = (props.apiUrl ?? 'https://api.cloudcraft.co').replace(/\/+$/, '');
    validateApiUrl(this, apiUrl);

    // A list token (a CommaDelimitedList parameter, say) is checked by CloudFormation and StackSets only.
    const ouList = Token.isUnresolved(props.organizationalUnitIds) ? [] : props.organizationalUnitIds;
    if (!Token.isUnresolved(props.organizationalUnitIds) && props.organizationalUnitIds.length === 0) {
      throw new CloudcraftValidationError(this, 'organizationalUnitIds', props.organizationalUnitIds, 'is empty', 'Give at least one OU ID ("ou-...") or the root ID ("r-...").');
    }
    for (const ou of ouList) {
      if (!Token.isUnresolved(ou) && !/^(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})$/.test(ou)) {
        throw new CloudcraftValidationError(this, 'organizationalUnitIds', ou, 'is not an OU or root ID', 'Give IDs such as "ou-ab12-cdef3456" or "r-ab12".');
      }
    }
    // An environment-agnostic stack: the region it is deployed in (AWS::Region), resolved by CloudFormation.
    const homeRegion = props.homeRegion ?? stack.region;
    validateRegion(this, 'homeRegion', homeRegion, 'Give the region of the member stacks, such as "eu-west-1", or leave it out for this stack\'s region.');
    validateRegion(this, 'verificationRegion', props.verificationRegion, 'Give a region name such as "eu-west-1" that your SCPs allow, or leave it out for us-east-1.');
    for (const [prop, value, min] of [['maxConcurrentPercentage', props.maxConcurrentPercentage, 1], ['failureTolerancePercentage', props.failureTolerancePercentage, 0]] as const) {
      if (value !== undefined && (!Number.isInteger(value) || value < min || value > 100)) {
        throw new CloudcraftValidationError(this, prop, value, `is not a whole percentage from ${min} to 100`, `Give a whole number from ${min} to 100.`);
      }
    }
    const naming = (props.accountName ?? CloudcraftAccountName.fromOrganizationName())._bind(this);
    if (naming.fixed !== undefined) {
      throw new CloudcraftValidationError(this, 'accountName', naming.fixed, 'is one fixed name, which every account of the Organization would get',
        'Use CloudcraftAccountName.fromOrganizationName() or fromPattern(\'{name} ({accountId})\', { names: { ... } }).');
    }
    if (naming.needsAlias) {
      throw new CloudcraftValidationError(this, 'accountName', naming.pattern, 'uses {alias}, which the registrar cannot read (it would need to sign in to every account)',
        'Use {name} (the account\'s name in AWS Organizations) and {accountId}, or names by account ID.');
    }
    const stackSetName = props.stackSetName ?? 'cloudcraft-integration';
    if (!Token.isUnresolved(stackSetName) && !/^[a-zA-Z][a-zA-Z0-9-]{0,127}$/.test(stackSetName)) {
      throw new CloudcraftValidationError(this, 'stackSetName', stackSetName, 'is not a StackSet name', 'Start with a letter; use letters, digits and hyphens, at most 128 characters.');
    }
    if (props.roleName !== undefined && Token.isUnresolved(props.roleName)) {
      throw new CloudcraftValidationError(this, 'roleName', '(a generated or deploy-time name)', 'cannot be used in an Organization: the registrar finds each account\'s role by its name',
        'Give a plain roleName (or keep the default "cloudcraft").');
    }
    const delegatedAdmin = props.delegatedAdmin ?? false;
    const livePolicy = props.access?._livePolicy() ?? 'none';
    if (livePolicy === 'follow') {
      throw new CloudcraftValidationError(this, 'access', 'CloudcraftAccess.minimal({ followLivePolicy: true })',
        'cannot be followed in member accounts: they have no function, and the registrar gets no IAM rights there',
        'Use CloudcraftAccess.minimal(): the registrar reads Cloudcraft\'s policy daily and reports a change (update the library then), or CloudcraftAccess.readOnlyAccess().');
    }
    return {
      apiUrl,
      homeRegion,
      naming: { pattern: naming.pattern!, names: naming.names },
      graceMs: (props.deregistrationGracePeriod ?? Duration.days(1)).toMilliseconds(),
      stackSetName,
      delegatedAdmin,
      callAs: delegatedAdmin ? 'DELEGATED_ADMIN' : 'SELF',
      includeThisAccount: props.includeThisAccount ?? true,
      policyCheck: livePolicy === 'check',
    };
  }

  /** The ledger: on demand, encrypted, with point-in-time recovery. */
  private createLedger(props: CloudcraftOrganizationIntegrationProps): dynamodb.Table {
    return new dynamodb.Table(this, 'Ledger', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: props.ledgerRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
  }

  /** The registrar: its role (least privilege), log group, environment (fixed at synth) and function. */
  private createRegistrar(config: OrganizationConfig, apiKey: CloudcraftApiKey, table: dynamodb.Table) {
    const logGroup = new logs.LogGroup(this, 'RegistrarLogs', { retention: logs.RetentionDays.ONE_YEAR });
    const role = new ManagedPolicyRole(this, 'RegistrarRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'cdk-cloudcraft Organization registrar: reads the Cloudcraft API key, the Organization, the StackSet\'s instances and its ledger',
    }, 'cdk-cloudcraft Organization registrar: read the API key, the Organization and the StackSet\'s instances; write the ledger and its logs');
    const key = apiKey._bind(role);
    table.grant(role, 'dynamodb:Scan', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem');
    logGroup.grantWrite(role);
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'ReadTheOrganization',
      actions: ['organizations:ListAccountsForParent', 'organizations:ListOrganizationalUnitsForParent', 'organizations:DescribeAccount'],
      resources: ['*'],
    }));
    // Service-managed StackSets live in the management account, also those a delegated administrator creates
    // (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStackSet.html, CallAs): from a
    // delegated administrator, the StackSet's ARN names the management account, and CallAs DELEGATED_ADMIN needs
    // organizations:ListDelegatedAdministrators ("Account used is not a delegated administrator" otherwise).
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'ReadTheStackInstances',
      actions: ['cloudformation:ListStackInstances'],
      resources: [this.stackSetResource(config.stackSetName, config.delegatedAdmin)],
    }));
    // The daily check of Cloudcraft's minimal policy reports a change with this event, and no other.
    if (config.policyCheck) allowPutEvent(role, 'ReportPolicyChanges', POLICY_CHANGED);
    if (config.delegatedAdmin) {
      role.addToPrincipalPolicy(new iam.PolicyStatement({
        sid: 'ActAsDelegatedAdministrator',
        actions: ['organizations:ListDelegatedAdministrators'],
        resources: ['*'],
      }));
    }

    // Where the key goes and which state the registrar owns: its environment, fixed at synth (contract.ts).
    const environment: RegistrarEnvironment = {
      apiUrl: config.apiUrl,
      apiKey: { source: key.source, id: key.id, ...(key.field ? { field: key.field } : {}) },
      ledgerTable: table.tableName,
      stackSetName: config.stackSetName,
      stackId: Aws.STACK_ID,
      metricsNamespace: METRICS_NAMESPACE,
    };
    const environmentJson = functionEnvironment(this, ENVIRONMENT_VARIABLE, environment, { prop: 'apiKey', value: key.id, fix: 'Use a shorter secret or parameter name.' });

    const registrar = new lambda.Function(this, 'Registrar', {
      description: 'cdk-cloudcraft: keeps Cloudcraft in step with the AWS Organization (the one writer for the API key)',
      ...bundledFunction('registrar'),
      timeout: REGISTRAR_TIMEOUT,
      memorySize: 512,
      role,
      logGroup,
      // No reserved concurrency (an account whose concurrency quota is low could not deploy it): the one writer is a
      // lease in the ledger table, and an invocation that finds it held ends at once.
      retryAttempts: 2,
      environment: { [ENVIRONMENT_VARIABLE]: environmentJson },
    });
    registrar.node.addDependency(role);
    this.allowRecursion(registrar);
    // A run that stops at its deadline continues in a new invocation of itself. A separate policy: the function's own
    // role policy cannot name the function (the function depends on it).
    const continuePolicy = new iam.ManagedPolicy(this, 'RegistrarContinues', {
      description: 'cdk-cloudcraft Organization registrar: continue a run in a new invocation of itself',
      statements: [new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [registrar.functionArn] })],
      roles: [role],
    });
    return { registrar, role, logGroup, continuePolicy, key, environmentJson };
  }

  /** The external ID is the same for every account (it belongs to the key's owner): given, or read once, here. */
  private readIamParameters(props: CloudcraftOrganizationIntegrationProps, config: OrganizationConfig, registrar: lambda.IFunction, keyId: string) {
    if (props.externalId !== undefined) {
      return { externalId: props.externalId, cloudcraftAwsAccountId: props.cloudcraftAwsAccountId };
    }
    const parameters = new CustomResource(this, 'IamParameters', {
      serviceToken: registrar.functionArn,
      resourceType: IAM_PARAMETERS_TYPE,
      serviceTimeout: REGISTRAR_SERVICE_TIMEOUT,
      // The key's reference too: another key (of another Cloudcraft user) means another external ID, read again.
      properties: { ApiUrl: config.apiUrl, ApiKeyId: keyId },
    });
    return {
      externalId: parameters.getAttString('ExternalId'),
      cloudcraftAwsAccountId: props.cloudcraftAwsAccountId ?? parameters.getAttString('AccountId'),
    };
  }

  /** The StackSet: the member template (the role only) in every account of the target OUs. */
  private createStackSet(props: CloudcraftOrganizationIntegrationProps, config: OrganizationConfig, externalId: string,
    cloudcraftAwsAccountId: string | undefined): CfnStackSet {
    const memberTemplate = JSON.stringify(buildMemberTemplate(this, props));
    if (Buffer.byteLength(memberTemplate) > 51_200) {
      throw new Error(`cdk-cloudcraft: the member template is ${Buffer.byteLength(memberTemplate)} bytes, over StackSets' 51,200-byte limit for an inline template`);
    }
    const parameterValues: Record<MemberParameter, string> = {
      ExternalId: externalId,
      CloudcraftAwsAccountId: cloudcraftAwsAccountId ?? CLOUDCRAFT_AWS_ACCOUNT_ID,
      HomeRegion: config.homeRegion,
    };
    const filter = this.stackSetFilter(props.accountFilter, config.delegatedAdmin && config.includeThisAccount);
    return new CfnStackSet(this, 'StackSet', {
      stackSetName: config.stackSetName,
      description: 'The Cloudcraft role in every account of the Organization\'s OUs (cdk-cloudcraft)',
      permissionModel: 'SERVICE_MANAGED',
      callAs: config.callAs,
      autoDeployment: { enabled: props.autoDeployment ?? true, retainStacksOnAccountRemoval: false },
      capabilities: ['CAPABILITY_NAMED_IAM'],
      managedExecution: { Active: true },
      // https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackSetOperationPreferences.html:
      // with the default STRICT_FAILURE_TOLERANCE the real concurrency is min(MaxConcurrent, FailureTolerance + 1);
      // SOFT_FAILURE_TOLERANCE runs what MaxConcurrentPercentage says regardless of failures. These preferences do
      // not apply to auto-deployment (accounts that join later).
      operationPreferences: {
        concurrencyMode: 'SOFT_FAILURE_TOLERANCE',
        maxConcurrentPercentage: props.maxConcurrentPercentage ?? 100,
        failureTolerancePercentage: props.failureTolerancePercentage ?? 10,
        regionConcurrencyType: 'PARALLEL',
      },
      parameters: MEMBER_PARAMETERS.map(k => ({ parameterKey: k, parameterValue: parameterValues[k] })),
      stackInstancesGroup: [{
        regions: [config.homeRegion],
        deploymentTargets: {
          organizationalUnitIds: props.organizationalUnitIds,
          ...(filter ? { accountFilterType: filter.type, accounts: filter.accounts } : {}),
        },
      }],
      templateBody: memberTemplate,
    });
  }

  /**
   * The registrar's resource: each deployment records the settings (in its properties, kept in the ledger) and
   * reconciles; deleting the stack deregisters everything the ledger owns.
   */
  private createReconcile(props: CloudcraftOrganizationIntegrationProps, config: OrganizationConfig, registrar: lambda.IFunction,
    externalId: string, environmentJson: string): CustomResource {
    const stack = Stack.of(this);
    const access = (a: CloudcraftTeamAccess, prefix: string): TeamAccessSettings => ({
      ...(a.readAccessTeams ? { read: teamIds(this, `${prefix}readAccessTeams`, a.readAccessTeams) } : {}),
      ...(a.writeAccessTeams ? { write: teamIds(this, `${prefix}writeAccessTeams`, a.writeAccessTeams) } : {}),
    });
    const settings: RegistrarSettings = {
      callAs: config.callAs,
      homeRegion: config.homeRegion,
      ...(props.accountFilter ? { accountFilter: props.accountFilter._bind() } : {}),
      role: { partition: Aws.PARTITION, path: props.path ?? '/', name: props.roleName ?? 'cloudcraft' },
      // This account's own role (ThisAccountRole, named as the members' roles).
      ...(config.includeThisAccount ? { thisAccount: { accountId: Aws.ACCOUNT_ID } } : {}),
      naming: config.naming,
      access: {
        ...access(props, ''),
        // A field an OU leaves out comes from the setting for all accounts.
        ...(props.teamAccessByOu ? {
          byOu: Object.fromEntries(Object.entries(props.teamAccessByOu).map(([ou, a]) => [ou, access(a, `teamAccessByOu.${ou}.`)])),
        } : {}),
      },
      graceMs: config.graceMs,
      ...(props.verificationRegion ? { verificationRegion: props.verificationRegion } : {}),
      ...(config.policyCheck ? { policyCheck: true } : {}),
    };
    const properties: RegistrarResourceProperties = {
      Settings: settings,
      Targets: props.organizationalUnitIds,
      ExternalId: externalId,
      Environment: environmentJson,
    };
    // As the event carries them: tokens count as the intrinsics that stand for them, plus what they may resolve to
    // beyond that (a deploy-time OU list: a parameter of up to 4,096 bytes; the stack's ID and the table's name), and
    // the ServiceToken and ServiceTimeout CloudFormation adds.
    const propertiesBytes = Buffer.byteLength(JSON.stringify(stack.resolve(properties)))
      + (Token.isUnresolved(props.organizationalUnitIds) ? 4_096 : 0) + 2 * 256 + 300;
    if (propertiesBytes > MAX_PROPERTIES_BYTES) {
      const names = Object.keys(config.naming.names).length;
      const ous = Object.keys(props.teamAccessByOu ?? {}).length;
      throw new CloudcraftValidationError(this, 'accountName', `${names} names by account ID, and ${ous} OUs in teamAccessByOu`,
        `make the registrar's settings ${propertiesBytes} bytes, over the ${MAX_PROPERTIES_BYTES} bytes a deployment can send it (CloudFormation's Update event carries the old and the new settings, and Lambda took 256 KB for such an event)`,
        'Name accounts by a pattern (fromPattern with {name} or {accountId}) instead of one by one, or give team access to fewer, higher OUs.');
    }
    return new CustomResource(this, 'Reconcile', {
      serviceToken: registrar.functionArn,
      resourceType: REGISTRAR_TYPE,
      serviceTimeout: REGISTRAR_SERVICE_TIMEOUT,
      properties: { ...properties },
    });
  }

  /**
   * Triggers: the StackSet's stack-instance events (a new account is registered minutes after its role exists) and a
   * schedule (the safety net: Organizations events are best effort). They exist only once the registrar's resource was
   * created: a run finds the deployment's settings in the ledger, or reports the ledger lost.
   */
  private createTriggers(props: CloudcraftOrganizationIntegrationProps, config: OrganizationConfig, registrar: lambda.IFunction,
    reconcile: CustomResource): { rules: events.Rule[]; schedule: events.Schedule } {
    const stack = Stack.of(this);
    const target = new targets.LambdaFunction(registrar, { retryAttempts: 2, maxEventAge: Duration.hours(6) });
    // This StackSet's ARN (its ID is "name:uuid"); from a delegated administrator, in the management account.
    const stackSetArn = `arn:${Aws.PARTITION}:cloudformation:${stack.region}:${config.delegatedAdmin ? '*' : stack.account}:stackset/${this.stackSet.attrStackSetId}`;
    const instanceEvents = new events.Rule(this, 'StackInstanceEvents', {
      description: 'cdk-cloudcraft: registers accounts as their Cloudcraft role is deployed by the StackSet',
      eventPattern: {
        source: ['aws.cloudformation'],
        detailType: ['CloudFormation StackSet StackInstance Status Change'],
        detail: { 'stack-set-arn': config.delegatedAdmin ? events.Match.wildcard(stackSetArn) : [stackSetArn] },
      },
      targets: [target],
    });
    const schedule = props.schedule ?? events.Schedule.rate(Duration.hours(1));
    const scheduled = new events.Rule(this, 'Schedule', {
      description: 'cdk-cloudcraft: reconciles Cloudcraft with the Organization',
      schedule,
      targets: [target],
    });
    instanceEvents.node.addDependency(reconcile);
    scheduled.node.addDependency(reconcile);
    return { rules: [instanceEvents, scheduled], schedule };
  }

  /**
   * Accounts that stay unregistered, or whose stack instance failed, for three runs (three hours by default); a
   * registrar that stops reporting, or reads incompletely, or has lost its ledger's deployment (the two figures are
   * then missing: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html, no FILL
   * here, so that missing stays missing and counts as breaching).
   */
  private createAlarm(config: OrganizationConfig, schedule: events.Schedule) {
    const period = alarmPeriodOf(schedule);
    const metric = (metricName: string) => new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { StackSetName: config.stackSetName }, statistic: 'Minimum', period });
    const alarm = new cloudwatch.Alarm(this, 'UnregisteredAccounts', {
      alarmDescription: 'cdk-cloudcraft: accounts of the Organization stay unregistered in Cloudcraft or their stack instance failed (see the registrar\'s dashboard and log group), or the registrar stopped reporting (a read failed, the ledger lost its deployment, no run)',
      metric: new cloudwatch.MathExpression({
        // Both figures come in the same metrics line of a run that read everything.
        expression: 'unregistered + failedInstances',
        usingMetrics: { unregistered: metric('AccountsUnregistered'), failedInstances: metric('StackInstancesFailed') },
        period,
        label: 'Accounts not registered, and stack instances failed',
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      // PutMetricAlarm: evaluation periods x period at most 7 days for periods of an hour or more
      // (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html).
      evaluationPeriods: Math.max(1, Math.min(3, Math.floor(604_800 / period.toSeconds()))),
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    return { alarm, metric };
  }

  /**
   * The status page a platform team opens first: the registrar's figures over time, the alarm, and the accounts not
   * registered with the reason (the last line the registrar logged for each, when it was not a success); the same
   * table as a saved Logs Insights query.
   */
  private createDashboard(stackSetName: string, metric: (name: string) => cloudwatch.Metric, alarm: cloudwatch.Alarm,
    logGroup: logs.ILogGroup): cloudwatch.Dashboard {
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { defaultInterval: Duration.days(7) });
    const sum = (name: string) => metric(name).with({ statistic: 'Sum' });
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Accounts',
        left: ['AccountsDesired', 'AccountsRegistered', 'AccountsUnregistered', 'AccountsFailed', 'StackInstancesFailed']
          .map(name => metric(name).with({ statistic: 'Maximum' })),
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Cloudcraft calls',
        left: [sum('CloudcraftCalls'), sum('RegistrationsRemoved')],
        right: [sum('CloudcraftRateLimited')],
        width: 8,
      }),
      new cloudwatch.AlarmStatusWidget({ title: 'Alarm', alarms: [alarm], width: 4 }),
    );
    dashboard.addWidgets(new cloudwatch.LogQueryWidget({
      title: `Accounts not registered, and why (${stackSetName})`,
      logGroupNames: [logGroup.logGroupName],
      queryString: ACCOUNTS_NOT_REGISTERED_QUERY,
      view: cloudwatch.LogQueryVisualizationType.TABLE,
      width: 24,
      height: 8,
    }));
    // The L1: QueryString puts every filter before stats, and this one filters what stats made.
    new logs.CfnQueryDefinition(this, 'AccountsNotRegisteredQuery', {
      name: `cdk-cloudcraft/${stackSetName}/accounts-not-registered`,
      queryString: ACCOUNTS_NOT_REGISTERED_QUERY,
      logGroupNames: [logGroup.logGroupName],
    });
    return dashboard;
  }

  /**
   * A run that stops at its deadline after making progress continues in a new invocation of itself, at most
   * MAX_CONTINUATIONS deep (registrar/index.ts). Lambda's recursive loop detection also detects "loops comprised only of
   * Lambda functions, which may invoke each other synchronously or asynchronously", and stops a chain after about 16
   * (https://docs.aws.amazon.com/lambda/latest/dg/invocation-recursion.html, "Supported AWS services and SDKs"): Allow,
   * so that the registrar's own limit is the one. The setting exists only where the detection does (commercial
   * Regions but Mexico (Central) and Asia Pacific (New Zealand), the same page, "Supported Regions"); elsewhere
   * (GovCloud among them) the property is left out, and nothing cuts the chain.
   */
  private allowRecursion(registrar: lambda.Function): void {
    const region = Aws.REGION;
    const supported = new CfnCondition(this, 'RecursiveLoopSupported', {
      expression: Fn.conditionAnd(
        Fn.conditionEquals(Aws.PARTITION, 'aws'),
        Fn.conditionNot(Fn.conditionOr(Fn.conditionEquals(region, 'mx-central-1'), Fn.conditionEquals(region, 'ap-southeast-6'))),
      ),
    });
    (registrar.node.defaultChild as lambda.CfnFunction).addPropertyOverride('RecursiveLoop', Fn.conditionIf(supported.logicalId, 'Allow', Aws.NO_VALUE));
  }

  /** The StackSet's account filter: the user's, minus this account when it is a delegated administrator with its own role. */
  private stackSetFilter(filter: CloudcraftAccountFilter | undefined, excludeThisAccount: boolean): { type: string; accounts: string[] } | undefined {
    const given = filter?._bind();
    if (!excludeThisAccount) return given;
    const self = Stack.of(this).account;
    if (!given) return { type: 'DIFFERENCE', accounts: [self] };
    if (given.type === 'DIFFERENCE') return { type: 'DIFFERENCE', accounts: [...given.accounts, self] };
    if (Token.isUnresolved(self)) {
      throw new CloudcraftValidationError(this, 'accountFilter', 'onlyAccounts(...)', 'cannot leave out this delegated administrator account: the stack has no account',
        'Deploy this stack with an explicit env account, or use exceptAccounts(...), or set includeThisAccount: false.');
    }
    return { type: 'INTERSECTION', accounts: given.accounts.filter(a => a !== self) };
  }

  /** This StackSet, for ListStackInstances: its ID's suffix is generated, and from a delegated administrator it is the management account's. */
  private stackSetResource(stackSetName: string, delegatedAdmin: boolean): string {
    return Stack.of(this).formatArn({ service: 'cloudformation', resource: 'stackset', resourceName: `${stackSetName}:*`, account: delegatedAdmin ? '*' : undefined });
  }

  private acknowledgeFindings(registrar: lambda.Function, role: ManagedPolicyRole, logGroup: logs.LogGroup, table: dynamodb.Table,
    alarm: cloudwatch.Alarm, rules: events.Rule[], delegatedAdmin: boolean): void {
    acknowledge(role.grantsPolicy!, [
      { id: 'AwsSolutions-IAM5[Resource::*]', reason: 'The Organizations read actions (ListAccountsForParent, ListOrganizationalUnitsForParent, DescribeAccount) are read-only and the registrar walks the whole target tree: per-OU and per-account ARNs are not known at deploy time.' },
      {
        // As cdk-nag names it, whatever form the stack gives the ARN (a literal partition with a concrete region).
        id: `AwsSolutions-IAM5[Resource::${findingForm(this, this.stackSetResource(this.stackSet.stackSetName!, delegatedAdmin))}]`,
        reason: 'ListStackInstances on this StackSet only; the StackSet ID suffix is generated by CloudFormation (and, from a delegated administrator, the StackSet lives in the management account).',
      },
    ]);
    acknowledge(table, ['NIST.800.53.R5', 'HIPAA.Security'].map(pack => ({
      id: `${pack}-DynamoDBInBackupPlan`,
      reason: 'The ledger has point-in-time recovery, and a lost ledger is rebuilt by the registrar (it adopts the registrations of its roles): an AWS Backup plan would add cost, not safety.',
    })));
    acknowledge(alarm, ['NIST.800.53.R5', 'HIPAA.Security'].map(pack => ({
      id: `${pack}-CloudWatchAlarmAction`,
      reason: 'The alarm is exposed as unregisteredAlarm for the user to route (addAlarmAction) to their own on-call topic; a construct library cannot choose it.',
    })));
    for (const rule of rules) {
      acknowledge(rule, [{ id: 'Serverless-EventBusDLQ', reason: 'A lost trigger costs nothing: every run reconciles everything, and the schedule runs again within the hour.' }]);
    }
    acknowledge(logGroup, ['NIST.800.53.R5', 'HIPAA.Security', 'PCI.DSS.321'].map(pack => ({
      id: `${pack}-CloudWatchLogGroupEncrypted`,
      reason: 'The registrar logs no secret (the API key is redacted from every line, and tests search every line for it); CloudWatch Logs encrypts at rest by default.',
    })));
    const outside = 'The registrar must reach Cloudcraft\'s public API on the internet; it holds no data, and a VPC would need a NAT path.';
    const concurrency = 'No reserved concurrency on purpose: an account whose Lambda concurrency quota is low (young accounts start at 10) could not deploy it. The one writer is a lease in the ledger; an invocation that finds it held ends at once, so only a few run at a time.';
    const retried = 'Every run is idempotent and the schedule runs again within the hour; failed runs are logged and raise the UnregisteredAccounts alarm.';
    acknowledge(registrar, [
      { id: 'NIST.800.53.R5-LambdaInsideVPC', reason: outside },
      { id: 'HIPAA.Security-LambdaInsideVPC', reason: outside },
      { id: 'PCI.DSS.321-LambdaInsideVPC', reason: outside },
      { id: 'NIST.800.53.R5-LambdaConcurrency', reason: concurrency },
      { id: 'HIPAA.Security-LambdaConcurrency', reason: concurrency },
      { id: 'NIST.800.53.R5-LambdaDLQ', reason: retried },
      { id: 'HIPAA.Security-LambdaDLQ', reason: retried },
      { id: 'Serverless-LambdaDLQ', reason: retried },
      { id: 'Serverless-LambdaTracing', reason: 'The registrar logs every Cloudcraft call and publishes its run metrics; X-Ray would trace one function calling one API.' },
    ]);
    const eventInvokeConfig = registrar.node.tryFindChild('EventInvokeConfig');
    if (eventInvokeConfig) {
      acknowledge(eventInvokeConfig, [{ id: 'Serverless-LambdaAsyncFailureDestination', reason: retried }]);
    }
  }
}
