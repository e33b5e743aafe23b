import { Aws, CustomResource, Duration, Names, Stack, Tags } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { CloudcraftApiKey } from './api-key';
import { DEFAULT_API_URL } from './handler/contract';
import { SERVICE_TIMEOUT } from './handler-function';
import {
  API_URLS_VARIABLE, LIVE_POLICY_TYPE, LivePolicyResourceProperties, POLICY_CHECK_EVENT, PolicyCheckEvent,
} from './live-policy-function/contract';
import { acknowledge, findingForm } from '../private/acknowledge';
import { bundledFunction } from '../private/bundle';
import { allowPutEvent } from '../private/events';
import { ManagedPolicyRole } from '../private/managed-policy-role';
import { validateApiUrl } from '../private/validate';
import { CloudcraftRole } from '../role/cloudcraft-role';
import { normalizeApiUrl } from '../runtime/api-url';
import { POLICY_CHANGED } from '../runtime/events';

/** The inline policy of the Cloudcraft role that holds Cloudcraft's live minimal policy (followLivePolicy). */
export { LIVE_POLICY_NAME } from './live-policy-function/contract';
/** The tag on the Cloudcraft role that lets this installation's live-policy function read, write and remove its inline policy. */
export const LIVE_POLICY_TAG = 'cdk-cloudcraft:live-policy';

export interface CloudcraftLivePolicyProps {
  readonly apiKey: CloudcraftApiKey;
  /** @default DEFAULT_API_URL */
  readonly apiUrl?: string;
  readonly role: CloudcraftRole;
  /** `check`: report a change daily; `follow`: apply the live policy at deploy time and daily. */
  readonly mode: 'check' | 'follow';
}

/**
 * Cloudcraft's live minimal policy for a single-account integration: a function of its own (lib/registration/
 * live-policy-function), a rule that invokes it once a day (report a change; in follow mode, apply it), an SSM
 * parameter that keeps what was reported, and in follow mode `Custom::CloudcraftLivePolicy`, which applies the live
 * policy as the role's inline policy at deploy time and removes it on Delete. The function may read the key, change
 * that one inline policy of that one role, write that one parameter and put only the policy event. Internal.
 */
export class CloudcraftLivePolicy extends Construct {
  public readonly function: lambda.Function;
  /** The resource that applies the policy (follow mode). */
  public readonly resource?: CustomResource;
  /** The daily rule. */
  public readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: CloudcraftLivePolicyProps) {
    super(scope, id);
    const apiUrl = normalizeApiUrl(props.apiUrl ?? DEFAULT_API_URL);
    validateApiUrl(this, apiUrl);

    const logGroup = new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_YEAR });
    const role = new ManagedPolicyRole(this, 'FunctionRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'cdk-cloudcraft live policy: reads the Cloudcraft API key and Cloudcraft\'s minimal policy, reports a change',
    }, 'cdk-cloudcraft live policy: read the API key; write the check\'s state, its logs and the policy event; follow mode: the Cloudcraft role\'s inline policy');
    const key = props.apiKey._bind(role);
    logGroup.grantWrite(role);
    const state = new ssm.StringParameter(this, 'State', {
      description: 'cdk-cloudcraft: the state of the daily check of Cloudcraft\'s minimal policy (what was reported), written by its function',
      stringValue: '{}',
      tier: ssm.ParameterTier.STANDARD,
    });
    // GetParameter and PutParameter on this parameter only.
    state.grantRead(role);
    state.grantWrite(role);
    allowPutEvent(role, 'ReportPolicyChanges', POLICY_CHANGED);
    // The Cloudcraft role's inline policies, and nothing else of it (not its boundary, trust or managed policies), by
    // a tag of this installation: a role replaced (another name or path) keeps it until it is deleted, so the Delete of
    // the old resource can still clean it. Writing needs the ReadOnlyAccess boundary on the role too: if anything
    // replaced the boundary, nothing is written. Condition keys: aws:ResourceTag on the role resource,
    // iam:PermissionsBoundary on PutRolePolicy and DeleteRolePolicy
    // (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html).
    // Reading and removing are granted in check mode too: a switch from follow to check removes the inline policy.
    const tag = { key: LIVE_POLICY_TAG, value: Names.uniqueId(this) };
    Tags.of(props.role).add(tag.key, tag.value);
    const roles = Stack.of(this).formatArn({ service: 'iam', region: '', resource: 'role', resourceName: '*' });
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'ReadAndRemoveCloudcraftsPolicy',
      actions: ['iam:GetRolePolicy', 'iam:DeleteRolePolicy'],
      resources: [roles],
      conditions: { StringEquals: { [`aws:ResourceTag/${tag.key}`]: tag.value } },
    }));
    if (props.mode === 'follow') {
      role.addToPrincipalPolicy(new iam.PolicyStatement({
        sid: 'ApplyCloudcraftsPolicy',
        actions: ['iam:PutRolePolicy'],
        resources: [roles],
        conditions: {
          StringEquals: {
            [`aws:ResourceTag/${tag.key}`]: tag.value,
            'iam:PermissionsBoundary': Stack.of(this).formatArn({ service: 'iam', region: '', account: 'aws', resource: 'policy', resourceName: 'ReadOnlyAccess' }),
          },
        },
      }));
    }

    this.function = new lambda.Function(this, 'Function', {
      description: 'cdk-cloudcraft: checks Cloudcraft\'s minimal policy daily (and applies it to the Cloudcraft role in follow mode)',
      ...bundledFunction('live-policy'),
      timeout: Duration.minutes(5),
      memorySize: 256,
      role,
      logGroup,
      // The rule and CloudFormation are its only callers, and each answer is its own: no retry would add anything.
      retryAttempts: 0,
      // Where the key may go, fixed at synth: an event cannot name another host.
      environment: { [API_URLS_VARIABLE]: Stack.of(this).toJsonString([apiUrl]) },
    });
    this.function.node.addDependency(role);

    const fields: LivePolicyResourceProperties = {
      ApiUrl: apiUrl,
      ApiKeySource: key.source,
      ApiKeyId: key.id,
      ...(key.field ? { ApiKeyField: key.field } : {}),
      Mode: props.mode,
      RoleName: props.role.roleName,
      StateParameter: state.parameterName,
      MetricsNamespace: 'cdk-cloudcraft',
      Partition: Aws.PARTITION,
    };
    if (props.mode === 'follow') {
      this.resource = new CustomResource(this, 'Resource', {
        serviceToken: this.function.functionArn,
        resourceType: LIVE_POLICY_TYPE,
        serviceTimeout: SERVICE_TIMEOUT,
        properties: fields,
      });
      // Applied once the function may do it; removed before the role goes.
      this.resource.node.addDependency(this.function, props.role);
      props.role._followedBy(this.node.path);
    }
    const event: PolicyCheckEvent = { cdkCloudcraft: POLICY_CHECK_EVENT, properties: fields };
    this.rule = new events.Rule(this, 'Daily', {
      description: 'cdk-cloudcraft: checks Cloudcraft\'s minimal policy once a day',
      schedule: events.Schedule.rate(Duration.days(1)),
      targets: [new targets.LambdaFunction(this.function, { event: events.RuleTargetInput.fromObject(event), retryAttempts: 0 })],
    });
    this.acknowledgeFindings(logGroup);
    acknowledge(role.grantsPolicy!, [{
      id: `AwsSolutions-IAM5[Resource::${findingForm(this, roles)}]`,
      reason: 'Roles only with this installation\'s tag (aws:ResourceTag), which the Cloudcraft role carries (and keeps while a replaced one is deleted); writing also needs AWS ReadOnlyAccess as the role\'s boundary (iam:PermissionsBoundary). Actions: the role\'s inline policies only.',
    }]);
  }

  private acknowledgeFindings(logGroup: logs.LogGroup): void {
    const daily = 'A check that fails is done again by the next day\'s (its state makes it report a change it missed); CloudFormation sees every failure of the resource in its answer.';
    const outside = 'The function must reach Cloudcraft\'s public API on the internet; it holds no data, and a VPC would need a NAT path.';
    acknowledge(this.function, [
      ...['NIST.800.53.R5', 'HIPAA.Security', 'PCI.DSS.321'].map(pack => ({ id: `${pack}-LambdaInsideVPC`, reason: outside })),
      ...['NIST.800.53.R5', 'HIPAA.Security'].map(pack => ({ id: `${pack}-LambdaConcurrency`, reason: 'Invoked once a day and by CloudFormation: reserved concurrency would take capacity from the account for nothing.' })),
      ...['NIST.800.53.R5-LambdaDLQ', 'HIPAA.Security-LambdaDLQ', 'Serverless-LambdaDLQ'].map(reasonFor => ({ id: reasonFor, reason: daily })),
      { id: 'Serverless-LambdaTracing', reason: 'One read a day, logged with its outcome and published as metrics; X-Ray would trace one call.' },
    ]);
    const eventInvokeConfig = this.function.node.tryFindChild('EventInvokeConfig');
    if (eventInvokeConfig) acknowledge(eventInvokeConfig, [{ id: 'Serverless-LambdaAsyncFailureDestination', reason: daily }]);
    acknowledge(this.rule, [{ id: 'Serverless-EventBusDLQ', reason: daily }]);
    acknowledge(logGroup, ['NIST.800.53.R5', 'HIPAA.Security', 'PCI.DSS.321'].map(pack => ({
      id: `${pack}-CloudWatchLogGroupEncrypted`,
      reason: 'The function logs no secret (the API key is never logged); CloudWatch Logs encrypts at rest by default.',
    })));
  }
}
