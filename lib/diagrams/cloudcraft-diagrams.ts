import { Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import {
  DATED_COPY_TAG, DIAGRAM_CHANGED, DiagramAccounts, DIAGRAMS_ENVIRONMENT_VARIABLE, DiagramsEnvironment, DiagramsTrigger,
} from './worker/contract';
import { CloudcraftOrganizationIntegration } from '../organization/organization-integration';
import { acknowledge, findingForm } from '../private/acknowledge';
import { bundledFunction } from '../private/bundle';
import { allowPutEvent } from '../private/events';
import { ManagedPolicyRole } from '../private/managed-policy-role';
import { CloudcraftValidationError, functionEnvironment, validateApiUrl, validateRegion } from '../private/validate';
import { CloudcraftApiKey } from '../registration/api-key';
import { CloudcraftIntegration } from '../registration/cloudcraft-integration';
import { CloudcraftRegistration } from '../registration/cloudcraft-registration';

/** An image format Cloudcraft renders a diagram in. */
export enum CloudcraftImageFormat {
  /** PNG. */
  PNG = 'png',
  /** SVG. */
  SVG = 'svg',
  /** PDF. */
  PDF = 'pdf',
  /** draw.io's mxGraph XML. */
  MX_GRAPH = 'mxGraph',
}

/** How a diagram is projected. */
export enum CloudcraftProjection {
  /** Cloudcraft's 3D view. */
  ISOMETRIC = 'isometric',
  /** A flat view. */
  TWO_D = '2d',
}

/** The diagram's colour theme. */
export enum CloudcraftTheme {
  /** Light. */
  LIGHT = 'light',
  /** Dark. */
  DARK = 'dark',
}

/** What is done with a diagram's blueprint that someone edited in Cloudcraft since the library last wrote it. */
export enum CloudcraftBlueprintEdited {
  /** Left as it is and reported "diverged" (a warning, the `BlueprintsDiverged` metric, the index page); written again if it is deleted. */
  LEAVE = 'leave',
  /** Overwritten with the diagram: the person's edit is lost (Cloudcraft keeps the blueprint's earlier versions in the app). */
  OVERWRITE = 'overwrite',
  /** Left to the people who edit it, and a new blueprint made from the diagram (kept from then on). */
  FORK = 'fork',
}

/**
 * The `blueprints` option of `CloudcraftDiagrams`: one machine-owned Cloudcraft blueprint per account and region.
 */
export interface CloudcraftBlueprintOptions {
  /**
   * What is done when someone edited the blueprint in Cloudcraft since the library last wrote it (told by
   * Cloudcraft's 412 to a write with `If-Match`).
   *
   * @default CloudcraftBlueprintEdited.LEAVE
   */
  readonly whenEdited?: CloudcraftBlueprintEdited;
}

/**
 * Cloudcraft's rendering options for the images (the query of `GET /aws/account/{id}/{region}/{format}`).
 */
export interface CloudcraftRenderingOptions {
  /** @default - Cloudcraft's default (isometric) */
  readonly projection?: CloudcraftProjection;
  /** @default - Cloudcraft's default (light) */
  readonly theme?: CloudcraftTheme;
  /**
   * The Live tab's filter expression (terms separated by spaces), such as `"env=production"`.
   * @default - every component
   */
  readonly filter?: string;
  /**
   * Component types left out, such as `['ebs', 'networkacl']`.
   * @default - none
   */
  readonly exclude?: string[];
  /** @default - Cloudcraft's default (labels shown) */
  readonly label?: boolean;
  /** @default - Cloudcraft's default (connections drawn) */
  readonly autoconnect?: boolean;
  /** @default - Cloudcraft's default */
  readonly grid?: boolean;
  /** @default - Cloudcraft's default */
  readonly transparent?: boolean;
  /** @default - Cloudcraft's default */
  readonly landscape?: boolean;
  /**
   * Width in pixels.
   * @default - Cloudcraft's default
   */
  readonly width?: number;
  /**
   * Height in pixels.
   * @default - Cloudcraft's default
   */
  readonly height?: number;
  /** @default - Cloudcraft's default */
  readonly scale?: number;
  /**
   * The paper size of a PDF, such as `"A4"`.
   * @default - Cloudcraft's default
   */
  readonly paperSize?: string;
}

/** @internal */
export interface DiagramSourceBinding {
  readonly apiKey: CloudcraftApiKey;
  readonly apiUrl: string;
  readonly accounts: DiagramAccounts;
  /** The registrar's ledger: the accounts it registered, and the key's pacing record. */
  readonly ledger?: dynamodb.ITable;
}

/**
 * Which accounts `CloudcraftDiagrams` draws, and the API key it draws them with (the one that registered them).
 */
export abstract class CloudcraftDiagramSource {
  /** The account a `CloudcraftIntegration` of this app connects. */
  public static fromIntegration(integration: CloudcraftIntegration): CloudcraftDiagramSource {
    return CloudcraftDiagramSource.fromRegistration(integration.registration);
  }

  /** The account of a `CloudcraftRegistration` (its role's account). */
  public static fromRegistration(registration: CloudcraftRegistration): CloudcraftDiagramSource {
    return new RegistrationSource(registration);
  }

  /** Every account the Organization registrar has registered, as it registers them. */
  public static fromOrganization(organization: CloudcraftOrganizationIntegration): CloudcraftDiagramSource {
    return new OrganizationSource(organization);
  }

  protected constructor() {}

  /** @internal */
  public abstract _bind(): DiagramSourceBinding;
}

class RegistrationSource extends CloudcraftDiagramSource {
  constructor(private readonly registration: CloudcraftRegistration) {
    super();
  }

  public _bind(): DiagramSourceBinding {
    const c = this.registration._connection;
    return {
      apiKey: c.apiKey,
      apiUrl: (c.apiUrl ?? 'https://api.cloudcraft.co').replace(/\/+$/, ''),
      accounts: { registrations: [{ accountId: c.accountId, registrationId: this.registration.registrationId }] },
    };
  }
}

class OrganizationSource extends CloudcraftDiagramSource {
  constructor(private readonly organization: CloudcraftOrganizationIntegration) {
    super();
  }

  public _bind(): DiagramSourceBinding {
    const { apiKey, apiUrl } = this.organization._api;
    return { apiKey, apiUrl, accounts: { ledgerTable: this.organization.ledger.tableName }, ledger: this.organization.ledger };
  }
}

/**
 * Properties of `CloudcraftDiagrams`.
 */
export interface CloudcraftDiagramsProps {
  /** The accounts to draw: `CloudcraftDiagramSource.fromIntegration(...)` or `fromOrganization(...)`. */
  readonly source: CloudcraftDiagramSource;

  /** The regions drawn, one diagram per account and region, such as `['eu-west-1', 'us-east-1']`. */
  readonly regions: string[];

  /**
   * When a new round starts: each account-region's JSON snapshot is taken once per round (rendered and announced
   * only when it changed). A round larger than one invocation is continued by a tick every 15 minutes.
   *
   * @default events.Schedule.rate(Duration.days(1))
   */
  readonly schedule?: events.Schedule;

  /**
   * The image formats rendered when a diagram changed (and the first time).
   *
   * @default [CloudcraftImageFormat.PNG, CloudcraftImageFormat.SVG]
   */
  readonly imageFormats?: CloudcraftImageFormat[];

  /**
   * Cloudcraft's rendering options for the images.
   *
   * @default - Cloudcraft's defaults
   */
  readonly rendering?: CloudcraftRenderingOptions;

  /**
   * The bucket the diagrams are written to (under `prefix`). A bucket given here is used as it is: its encryption,
   * versioning and lifecycle are yours (dated copies carry the object tag `cdk-cloudcraft-copy=dated` for a lifecycle
   * rule of your own).
   *
   * @default - a bucket created here: versioned, encrypted, public access blocked, TLS only, dated copies expired
   * after `retention`
   */
  readonly bucket?: s3.IBucket;

  /**
   * The key prefix of the diagrams: `<prefix><awsAccountId>/<region>/latest.{json,png,svg}` and dated copies.
   *
   * @default 'cloudcraft-diagrams/'
   */
  readonly prefix?: string;

  /**
   * How long dated copies (and replaced versions of the `latest` objects) are kept, in a bucket created here.
   *
   * @default Duration.days(90)
   */
  readonly retention?: Duration;

  /**
   * Requests a minute that the diagram work leaves to registration under Cloudcraft's stricter reading of its limit
   * (20 a minute per key): registration comes first. The diagram work counts every request of the key (the
   * Organization registrar's too) in one record of the key's pacing.
   *
   * @default 5
   */
  readonly requestsLeftForRegistration?: number;

  /**
   * Also keep one Cloudcraft blueprint per account and region, named `Live diagram <account> <region> (cdk-cloudcraft)`:
   * made from the JSON snapshot (Cloudcraft's "scan and auto layout"), shared with the same teams as the account, and
   * written again when the diagram changes. A page that embeds the blueprint stays current. Costs, per change, one
   * write (and one account list per invocation that writes any).
   *
   * @default - no blueprints
   */
  readonly blueprints?: CloudcraftBlueprintOptions;
}

const METRICS_NAMESPACE = 'cdk-cloudcraft';
/** How often a round in progress is continued. */
const TICK = Duration.minutes(15);

/**
 * Living diagrams: each connected account's diagram, per region, taken by Cloudcraft on a schedule and kept in S3 —
 * `<prefix><awsAccountId>/<region>/latest.{json,png,svg}` plus dated copies — and announced on the account's default
 * event bus (source `cdk-cloudcraft`, detail-type `Cloudcraft Diagram Changed`) when it changes.
 *
 * A day with no change costs one JSON snapshot per account-region and no image. The work uses the installation's
 * API key, within a share of its rate limit that leaves registration its requests.
 */
export class CloudcraftDiagrams extends Construct {
  /** The bucket the diagrams are written to. */
  public readonly bucket: s3.IBucket;
  /** The key prefix of the diagrams in the bucket. */
  public readonly prefix: string;
  /** The function that takes the snapshots. */
  public readonly function: lambda.IFunction;
  /** The diagram work's state: per account-region, the last version written. */
  public readonly stateTable: dynamodb.ITable;
  /** In alarm when a run stopped because Cloudcraft refused the API key (401), or account-regions keep failing. */
  public readonly alarm: cloudwatch.IAlarm;

  constructor(scope: Construct, id: string, props: CloudcraftDiagramsProps) {
    super(scope, id);
    const source = props.source._bind();
    validateApiUrl(this, source.apiUrl);
    const regions = this.validateRegions(props.regions);
    const prefix = props.prefix ?? 'cloudcraft-diagrams/';
    if (!Token.isUnresolved(prefix) && !(prefix === '' || /^[A-Za-z0-9!_.*'()-]+(\/[A-Za-z0-9!_.*'()-]+)*\/$/.test(prefix))) {
      throw new CloudcraftValidationError(this, 'prefix', prefix, 'is not a key prefix of safe characters that ends with "/"',
        'Give a prefix such as "cloudcraft-diagrams/" (letters, digits and ! _ . * \' ( ) -, folders separated by "/"), or "" for the bucket\'s root.');
    }
    const formats = props.imageFormats ?? [CloudcraftImageFormat.PNG, CloudcraftImageFormat.SVG];
    if (new Set(formats).size !== formats.length) {
      throw new CloudcraftValidationError(this, 'imageFormats', formats, 'names a format twice', 'Give each format once.');
    }
    const reserve = props.requestsLeftForRegistration ?? 5;
    if (!Number.isInteger(reserve) || reserve < 1 || reserve > 19) {
      throw new CloudcraftValidationError(this, 'requestsLeftForRegistration', reserve, 'is not a whole number from 1 to 19',
        'Registration needs some of the 20 requests a minute; the diagram work gets the rest. Give 1 to 19 (default 5).');
    }
    const query = this.renderingQuery(props.rendering ?? {});
    this.prefix = prefix;

    this.bucket = props.bucket ?? this.createBucket(props.retention ?? Duration.days(90));
    const table = new dynamodb.Table(this, 'State', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // Rebuilt by the next round when lost (every diagram is then written once more, and nothing is announced).
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateTable = table;

    const logGroup = new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_YEAR });
    const role = new ManagedPolicyRole(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'cdk-cloudcraft diagrams: reads the Cloudcraft API key; writes the diagrams under its prefix, its state, and its change events',
    }, 'cdk-cloudcraft diagrams: read the API key; write the diagrams under the prefix, the state table, the key\'s pacing record and the change events');
    const key = source.apiKey._bind(role);
    table.grant(role, 'dynamodb:Scan', 'dynamodb:GetItem', 'dynamodb:PutItem');
    logGroup.grantWrite(role);
    this.grantLedger(role, source.ledger);
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'WriteTheDiagrams',
      // PutObjectTagging: a PutObject with tags (the dated copies) needs it too
      // (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html, x-amz-tagging).
      actions: ['s3:PutObject', 's3:PutObjectTagging', 's3:GetObject'],
      resources: [this.bucket.arnForObjects(`${prefix}*`)],
    }));
    this.bucket.encryptionKey?.grantEncryptDecrypt(role);
    allowPutEvent(role, 'AnnounceChanges', DIAGRAM_CHANGED);

    const environment: DiagramsEnvironment = {
      apiUrl: source.apiUrl,
      apiKey: { source: key.source, id: key.id, ...(key.field ? { field: key.field } : {}) },
      stateTable: table.tableName,
      pacingTable: source.ledger?.tableName ?? table.tableName,
      accounts: source.accounts,
      bucket: this.bucket.bucketName,
      prefix,
      regions,
      formats,
      query,
      concurrency: 8,
      reservePerMinute: reserve,
      ...(props.blueprints ? { blueprints: props.blueprints.whenEdited ?? CloudcraftBlueprintEdited.LEAVE } : {}),
      metricsNamespace: METRICS_NAMESPACE,
      metricsDimension: table.tableName,
    };
    const environmentJson = functionEnvironment(this, DIAGRAMS_ENVIRONMENT_VARIABLE, environment, {
      prop: 'regions', value: regions, fix: 'With the rendering options (filter, exclude) and the registrations they are too long: give fewer regions or a shorter filter.',
    });
    const fn = new lambda.Function(this, 'Function', {
      description: 'cdk-cloudcraft: keeps each connected account\'s Cloudcraft diagram in S3, and announces changes',
      ...bundledFunction('diagrams'),
      timeout: Duration.minutes(15),
      memorySize: 512,
      role,
      logGroup,
      // The next tick takes up what failed: EventBridge's and Lambda's retries would only repeat it.
      retryAttempts: 0,
      environment: { [DIAGRAMS_ENVIRONMENT_VARIABLE]: environmentJson },
    });
    fn.node.addDependency(role.grantsPolicy!);
    this.function = fn;

    const trigger = (kind: DiagramsTrigger['kind']) => new targets.LambdaFunction(fn, {
      event: events.RuleTargetInput.fromObject({ kind } satisfies DiagramsTrigger), retryAttempts: 0,
    });
    const rules = [
      new events.Rule(this, 'Schedule', {
        description: 'cdk-cloudcraft: starts a round of Cloudcraft diagram snapshots',
        schedule: props.schedule ?? events.Schedule.rate(Duration.days(1)),
        targets: [trigger('schedule')],
      }),
      new events.Rule(this, 'Tick', {
        description: 'cdk-cloudcraft: continues a round of Cloudcraft diagram snapshots in progress (a tick with no round open does nothing)',
        schedule: events.Schedule.rate(TICK),
        targets: [trigger('tick')],
      }),
    ];
    this.alarm = this.createAlarm(table);
    this.acknowledgeFindings(fn, role, logGroup, table, rules);
  }

  /**
   * A run stopped by a 401 (the key), or account-regions whose snapshot failed, in two hours of runs. The figures
   * come from the function's metrics line (namespace cdk-cloudcraft, dimension StateTable: this installation's).
   */
  private createAlarm(table: dynamodb.ITable): cloudwatch.Alarm {
    const metric = (metricName: string) => new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { StateTable: table.tableName }, statistic: 'Sum', period: Duration.hours(1),
    });
    const alarm = new cloudwatch.Alarm(this, 'Alarm', {
      alarmDescription: 'cdk-cloudcraft diagrams: a run stopped because Cloudcraft refused the API key, or account-regions keep failing (see the function\'s log group)',
      metric: new cloudwatch.MathExpression({
        expression: 'stopped + failed',
        usingMetrics: { stopped: metric('DiagramRunStopped'), failed: metric('DiagramsFailed') },
        period: Duration.hours(1),
        label: 'Runs stopped, and account-regions failed',
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      // No run in an hour (no round open) is no failure.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    acknowledge(alarm, ['NIST.800.53.R5', 'HIPAA.Security'].map(pack => ({
      id: `${pack}-CloudWatchAlarmAction`,
      reason: 'The alarm is exposed as `alarm` for the user to route (addAlarmAction) to their own on-call topic; a construct library cannot choose it.',
    })));
    return alarm;
  }

  private validateRegions(regions: string[]): string[] {
    if (Token.isUnresolved(regions) || regions.length === 0) {
      throw new CloudcraftValidationError(this, 'regions', Token.isUnresolved(regions) ? '(a deploy-time list)' : regions, 'is not a list of regions known at synth',
        'Give the regions to draw, such as [\'eu-west-1\', \'us-east-1\'].');
    }
    for (const region of regions) {
      validateRegion(this, 'regions', region, 'Give region names such as "eu-west-1" (Cloudcraft draws one region per diagram).');
    }
    if (new Set(regions).size !== regions.length) {
      throw new CloudcraftValidationError(this, 'regions', regions, 'names a region twice', 'Give each region once.');
    }
    return regions;
  }

  /** The rendering options as the snapshot's query string (checked here: a wrong one would fail every image). */
  private renderingQuery(options: CloudcraftRenderingOptions): string {
    const query = new URLSearchParams();
    for (const prop of ['width', 'height', 'scale'] as const) {
      const value = options[prop];
      if (value === undefined) continue;
      if (Token.isUnresolved(value) || !(value > 0) || (prop !== 'scale' && (!Number.isInteger(value) || value > 10_000))) {
        throw new CloudcraftValidationError(this, `rendering.${prop}`, value, prop === 'scale' ? 'is not a positive number' : 'is not a whole number of pixels from 1 to 10,000',
          'Give a number known at synth, or leave it out for Cloudcraft\'s default.');
      }
      query.set(prop, String(value));
    }
    if (options.projection) query.set('projection', options.projection);
    if (options.theme) query.set('theme', options.theme);
    if (options.filter !== undefined) {
      if (Token.isUnresolved(options.filter) || options.filter.trim() === '') {
        throw new CloudcraftValidationError(this, 'rendering.filter', options.filter, 'is empty or not known at synth', 'Give the Live tab\'s filter expression, or leave it out.');
      }
      query.set('filter', options.filter);
    }
    if (options.exclude && options.exclude.length > 0) {
      for (const type of options.exclude) {
        if (Token.isUnresolved(type) || !/^[A-Za-z0-9]+$/.test(type)) {
          throw new CloudcraftValidationError(this, 'rendering.exclude', type, 'is not a component type', 'Give component types such as "ebs" or "networkacl".');
        }
      }
      query.set('exclude', options.exclude.join(','));
    }
    for (const prop of ['label', 'autoconnect', 'grid', 'transparent', 'landscape'] as const) {
      if (options[prop] !== undefined) query.set(prop, String(options[prop]));
    }
    if (options.paperSize !== undefined) {
      if (Token.isUnresolved(options.paperSize) || !/^[A-Za-z0-9]+$/.test(options.paperSize)) {
        throw new CloudcraftValidationError(this, 'rendering.paperSize', options.paperSize, 'is not a paper size', 'Give a size such as "A4" or "Letter".');
      }
      query.set('paperSize', options.paperSize);
    }
    return query.toString();
  }

  /** Versioned, encrypted, private, TLS only; dated copies and replaced versions expire after `retention`. */
  private createBucket(retention: Duration): s3.Bucket {
    const days = retention.toMilliseconds() / 86_400_000;
    if (!Number.isInteger(days) || days < 1) {
      throw new CloudcraftValidationError(this, 'retention', retention.toHumanString(), 'is not a whole number of days, at least one', 'Give Duration.days(n).');
    }
    const expiry = Duration.days(days);
    return new s3.Bucket(this, 'Bucket', {
      versioned: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        { id: 'DatedCopies', tagFilters: { [DATED_COPY_TAG.key]: DATED_COPY_TAG.value }, expiration: expiry },
        { id: 'ReplacedVersions', noncurrentVersionExpiration: expiry },
      ],
    });
  }

  /**
   * The Organization registrar's ledger: the accounts it registered (a Scan: the ledger holds no secret) and the one
   * record of the key's pacing, which the diagram work writes and nothing else of the ledger
   * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html, dynamodb:LeadingKeys).
   */
  private grantLedger(role: iam.IRole, ledger: dynamodb.ITable | undefined): void {
    if (!ledger) return;
    ledger.grant(role, 'dynamodb:Scan');
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'ShareTheKeysPacing',
      actions: ['dynamodb:GetItem', 'dynamodb:PutItem'],
      resources: [ledger.tableArn],
      conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['meta#pacer'] } },
    }));
  }

  private acknowledgeFindings(fn: lambda.Function, role: ManagedPolicyRole, logGroup: logs.LogGroup, table: dynamodb.Table,
    rules: events.Rule[]): void {
    acknowledge(role.grantsPolicy!, [
      // As cdk-nag names it, whatever form the bucket's ARN takes (created here, given, imported by name).
      { id: `AwsSolutions-IAM5[Resource::${findingForm(this, this.bucket.arnForObjects(`${this.prefix}*`))}]`, reason: 'The diagrams are written under this prefix only: one object per account, region, format and version, whose names are known only at run time.' },
    ]);
    const outside = 'The function must reach Cloudcraft\'s public API on the internet; it holds no data of its own, and a VPC would need a NAT path.';
    const retried = 'A failed run is taken up by the next tick (every 15 minutes): retries and a dead-letter queue would only repeat it.';
    acknowledge(fn, [
      ...['NIST.800.53.R5', 'HIPAA.Security', 'PCI.DSS.321'].map(pack => ({ id: `${pack}-LambdaInsideVPC`, reason: outside })),
      ...['NIST.800.53.R5', 'HIPAA.Security'].map(pack => ({ id: `${pack}-LambdaConcurrency`, reason: 'One writer is a lease in the state table (an invocation that finds it held ends at once); reserved concurrency would need a concurrency quota young accounts do not have.' })),
      ...['NIST.800.53.R5-LambdaDLQ', 'HIPAA.Security-LambdaDLQ', 'Serverless-LambdaDLQ'].map(id => ({ id, reason: retried })),
      { id: 'Serverless-LambdaTracing', reason: 'The function logs every Cloudcraft call and publishes its run metrics; X-Ray would trace one function calling one API.' },
    ]);
    const eventInvokeConfig = fn.node.tryFindChild('EventInvokeConfig');
    if (eventInvokeConfig) acknowledge(eventInvokeConfig, [{ id: 'Serverless-LambdaAsyncFailureDestination', reason: retried }]);
    for (const rule of rules) acknowledge(rule, [{ id: 'Serverless-EventBusDLQ', reason: 'A lost trigger costs nothing: the next tick (15 minutes) or round takes the work up.' }]);
    acknowledge(logGroup, ['NIST.800.53.R5', 'HIPAA.Security', 'PCI.DSS.321'].map(pack => ({
      id: `${pack}-CloudWatchLogGroupEncrypted`,
      reason: 'The function logs no secret (the API key is redacted from every line); CloudWatch Logs encrypts at rest by default.',
    })));
    acknowledge(table, ['NIST.800.53.R5', 'HIPAA.Security'].map(pack => ({
      id: `${pack}-DynamoDBInBackupPlan`,
      reason: 'The state is rebuilt by the next round when lost (every diagram is written once more): a backup plan would add cost, not safety.',
    })));
    const created = this.node.tryFindChild('Bucket');
    if (created) {
      acknowledge(created, [
        ...['AwsSolutions-S1', 'NIST.800.53.R5-S3BucketLoggingEnabled', 'HIPAA.Security-S3BucketLoggingEnabled', 'PCI.DSS.321-S3BucketLoggingEnabled'].map(id => ({
          id, reason: 'Server access logs need a second bucket the user chooses; CloudTrail data events cover object access where it is required. Give your own bucket (prop bucket) with logging to have them.',
        })),
        ...['NIST.800.53.R5-S3BucketReplicationEnabled', 'HIPAA.Security-S3BucketReplicationEnabled', 'PCI.DSS.321-S3BucketReplicationEnabled'].map(id => ({
          id, reason: 'The diagrams are taken again every round from Cloudcraft: a replica adds cost, not safety. Give your own bucket (prop bucket) to replicate it.',
        })),
        ...['NIST.800.53.R5-S3DefaultEncryptionKMS', 'HIPAA.Security-S3DefaultEncryptionKMS', 'PCI.DSS.321-S3DefaultEncryptionKMS'].map(id => ({
          id, reason: 'Encrypted with S3 managed keys; give your own bucket (prop bucket) with a customer managed KMS key, which the function is then granted.',
        })),
      ]);
    }
  }
}
