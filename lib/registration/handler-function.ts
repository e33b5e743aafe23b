import { CustomResource, Duration, Lazy, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { CloudcraftApiKey } from './api-key';
import {
  API_URLS_VARIABLE, ApiResourceProperties, DEFAULT_API_URL, IAM_PARAMETERS_TYPE, REGISTRATION_TYPE, RegistrationResourceProperties,
} from './handler/contract';
import { acknowledge } from '../private/acknowledge';
import { bundledFunction } from '../private/bundle';
import { ManagedPolicyRole } from '../private/managed-policy-role';
import { validateApiUrl } from '../private/validate';
import { normalizeApiUrl } from '../runtime/api-url';


/**
 * How long the handler may work (Lambda's maximum); it answers CloudFormation before this. Only a throttled or
 * unreachable API uses it: other users of the key share its rate limit, and a stack may hold several registrations
 * (the Organization's accounts are the registrar's, not this handler's).
 */
export const HANDLER_TIMEOUT = Duration.minutes(15);
/** How long CloudFormation waits for an answer: a little more than the function's own timeout. */
export const SERVICE_TIMEOUT = Duration.minutes(16);

/**
 * The one function per stack that serves every Cloudcraft custom resource in it, with its own role and log
 * group. Its code is inline: the template needs no file assets, so it also deploys as a plain file (the standalone
 * integration template).
 */
export class CloudcraftHandler extends Construct {
  /**
   * The handler of `scope`'s stack, created on first use. Nothing about it depends on who asks for it, so the
   * order in which constructs are created never matters.
   */
  public static of(scope: Construct): CloudcraftHandler {
    const stack = Stack.of(scope);
    const id = 'CloudcraftHandler';
    return (stack.node.tryFindChild(id) as CloudcraftHandler | undefined) ?? new CloudcraftHandler(stack, id);
  }

  public readonly function: lambda.Function;
  public readonly role: ManagedPolicyRole;
  private aliasAllowed = false;
  /** The API URLs of this stack's Cloudcraft resources: the only hosts the handler sends the key to. */
  private readonly apiUrls = new Set<string>();

  private constructor(scope: Construct, id: string) {
    super(scope, id);

    const logGroup = new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_YEAR });
    // Grants (`secret.grantRead(role)`, ...) land in one customer managed policy, not an inline one.
    this.role = new ManagedPolicyRole(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'cdk-cloudcraft handler: reads the Cloudcraft API key, writes its own logs, lists its stack\'s resources',
    }, 'cdk-cloudcraft handler: read the Cloudcraft API key, write the handler\'s own log group, list its stack\'s resources');
    this.function = new lambda.Function(this, 'Function', {
      description: 'cdk-cloudcraft: registers AWS accounts with Cloudcraft (custom resource handler)',
      ...bundledFunction('registration-handler'),
      timeout: HANDLER_TIMEOUT,
      memorySize: 256,
      role: this.role,
      logGroup,
      // The handler always answers CloudFormation itself; a retried invocation would only repeat calls.
      retryAttempts: 0,
      // An event older than a minute is dropped: the handler works up to 15 minutes from its start, and CloudFormation
      // waits 16 from its request (SERVICE_TIMEOUT); a Create started later would answer after CloudFormation gave up
      // and rolled back, and register an account nobody removes. 60 s is the least Lambda allows
      // (MaximumEventAgeInSeconds: https://docs.aws.amazon.com/lambda/latest/api/API_PutFunctionEventInvokeConfig.html).
      maxEventAge: Duration.minutes(1),
      // Where the key may go, fixed at synth: an event (anyone allowed to invoke the function can send one) cannot name
      // another host. Filled by the resources of the stack, whenever they are created.
      environment: { [API_URLS_VARIABLE]: Lazy.string({ produce: () => Stack.of(this).toJsonString([...this.apiUrls]) }) },
    });
    // Written to only through the function's log group: no AWSLambdaBasicExecutionRole.
    logGroup.grantWrite(this.role);
    // A Delete reads its own stack's resources, to leave a registration another resource of the stack now holds (the
    // construct moved or renamed). ListStackResources takes the stack's ARN as its resource (Service Authorization
    // Reference, AWS CloudFormation: https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscloudformation.html).
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['cloudformation:ListStackResources'], resources: [Stack.of(this).stackId] }));
    this.function.node.addDependency(this.role);

    acknowledge(this.function.node.findChild('EventInvokeConfig'), [
      { id: 'Serverless-LambdaAsyncFailureDestination', reason: 'Async retries are off on purpose: the handler answers CloudFormation on every path, so the stack events already show every failure; a destination would receive nothing more.' },
    ]);
    acknowledge(logGroup, [
      ...['NIST.800.53.R5', 'HIPAA.Security', 'PCI.DSS.321'].map(pack => ({
        id: `${pack}-CloudWatchLogGroupEncrypted`,
        reason: 'The handler logs no secret (the API key is never logged, and tests search every log line for it); CloudWatch Logs encrypts at rest by default, and a customer managed KMS key per account would cost more than it protects.',
      })),
    ]);
    acknowledge(this.function, [
      { id: 'NIST.800.53.R5-LambdaConcurrency', reason: 'Custom-resource handler invoked by CloudFormation only, a few times per deployment: reserved concurrency would take capacity from the account for nothing.' },
      { id: 'NIST.800.53.R5-LambdaDLQ', reason: 'The handler answers CloudFormation itself on every path, and async retries are off; a failure is reported in the stack events, there is nothing to redrive.' },
      { id: 'NIST.800.53.R5-LambdaInsideVPC', reason: 'The handler must reach Cloudcraft\'s public API on the internet; it holds no data, and putting it in a VPC would need a NAT path in every account.' },
      { id: 'HIPAA.Security-LambdaConcurrency', reason: 'Custom-resource handler invoked by CloudFormation only, a few times per deployment: reserved concurrency would take capacity from the account for nothing.' },
      { id: 'HIPAA.Security-LambdaDLQ', reason: 'The handler answers CloudFormation itself on every path, and async retries are off; a failure is reported in the stack events, there is nothing to redrive.' },
      { id: 'HIPAA.Security-LambdaInsideVPC', reason: 'The handler must reach Cloudcraft\'s public API on the internet; it holds no data, and putting it in a VPC would need a NAT path in every account.' },
      { id: 'PCI.DSS.321-LambdaInsideVPC', reason: 'The handler must reach Cloudcraft\'s public API on the internet; it holds no data, and putting it in a VPC would need a NAT path in every account.' },
      { id: 'Serverless-LambdaDLQ', reason: 'The handler answers CloudFormation itself on every path, and async retries are off; a failure is reported in the stack events, there is nothing to redrive.' },
      { id: 'Serverless-LambdaTracing', reason: 'A custom-resource handler that runs a few times per deployment; its JSON log lines trace every Cloudcraft call.' },
    ]);
  }

  /** Lets the handler send the key to this API (the URL a resource of the stack names). */
  public allowApiUrl(apiUrl: string): void {
    this.apiUrls.add(Token.isUnresolved(apiUrl) ? apiUrl : normalizeApiUrl(apiUrl));
  }

  /** Lets the handler read the account alias (for names built from `{alias}`); once per stack. */
  public allowReadingAccountAlias(): void {
    if (this.aliasAllowed) return;
    this.aliasAllowed = true;
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['iam:ListAccountAliases'], resources: ['*'] }));
    acknowledge(this.role.node.findChild('Policy'), [{
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'iam:ListAccountAliases has no resource type: it reads the account alias, for the account name in Cloudcraft.',
    }]);
  }
}

/** Where a resource's API is and its key. */
export interface CloudcraftApi {
  readonly apiUrl?: string;
  readonly apiKey: CloudcraftApiKey;
}

/**
 * A Cloudcraft custom resource (id `Resource` in `scope`) served by the stack's handler, with what every one
 * carries: the API URL and the reference to the key, which the handler's role is granted to read.
 */
export function cloudcraftResource(scope: Construct, resourceType: typeof REGISTRATION_TYPE, api: CloudcraftApi,
  properties: Omit<RegistrationResourceProperties, keyof ApiResourceProperties>): CustomResource;
export function cloudcraftResource(scope: Construct, resourceType: typeof IAM_PARAMETERS_TYPE, api: CloudcraftApi): CustomResource;
export function cloudcraftResource(scope: Construct, resourceType: string, api: CloudcraftApi,
  properties: Omit<RegistrationResourceProperties, keyof ApiResourceProperties> | {} = {}): CustomResource {
  const apiUrl = api.apiUrl ?? DEFAULT_API_URL;
  validateApiUrl(scope, apiUrl);
  const handler = CloudcraftHandler.of(scope);
  handler.allowApiUrl(apiUrl);
  const key = api.apiKey._bind(handler.role);
  const common: ApiResourceProperties = { ApiUrl: apiUrl, ApiKeySource: key.source, ApiKeyId: key.id, ApiKeyField: key.field };
  const resource = new CustomResource(scope, 'Resource', {
    serviceToken: handler.function.functionArn,
    resourceType,
    serviceTimeout: SERVICE_TIMEOUT,
    properties: { ...common, ...properties },
  });
  resource.node.addDependency(handler);
  return resource;
}
