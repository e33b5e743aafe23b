import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Aws, CfnCondition, CfnParameter, CfnResource, DefaultStackSynthesizer, Fn, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { IConstruct } from 'constructs';
import { CloudcraftValidationError } from '../private/validate';
import { CloudcraftRole, CloudcraftRoleOptions } from '../role/cloudcraft-role';

/** Parameters of the member template, in the order StackSets gets them. */
export const MEMBER_PARAMETERS = ['ExternalId', 'CloudcraftAwsAccountId', 'HomeRegion'] as const;
export type MemberParameter = typeof MEMBER_PARAMETERS[number];

/**
 * Builds the member template: the Cloudcraft role only (no function, secret, key or custom resource), flat, without
 * assets or bootstrap checks, created only in the home region. Values from the management account come in as
 * parameters. Returns the template object.
 */
export function buildMemberTemplate(scope: IConstruct, options: CloudcraftRoleOptions): Record<string, any> {
  const boundaryArn = memberBoundaryArn(scope, options.permissionsBoundary);
  // A detached app with its own output folder: it must not write into the outer app's cdk.out (CDK_OUTDIR).
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-cloudcraft-member-'));
  try {
    const app = new App({ analyticsReporting: false, outdir });
    const stack = addMemberStack(app, options, boundaryArn);
    const template = app.synth().getStackByName(stack.stackName).template;
    // Resource metadata (construct paths, rule acknowledgements) is for tools that read this app, not for member
    // accounts: the body StackSets sends stays small.
    for (const resource of Object.values<any>(template.Resources ?? {})) delete resource.Metadata;
    return template;
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

/** Adds the member stack to `app` (tests run rule engines on it). */
export function addMemberStack(app: App, options: CloudcraftRoleOptions, boundaryArn?: string): Stack {
  const stack = new Stack(app, 'CloudcraftMember', {
    synthesizer: new DefaultStackSynthesizer({ generateBootstrapVersionRule: false }),
    analyticsReporting: false,
    description: 'The IAM role Cloudcraft assumes to draw this account (cdk-cloudcraft Organization integration)',
  });
  const parameter = (name: MemberParameter, description: string, pattern: string) =>
    new CfnParameter(stack, name, { type: 'String', description, allowedPattern: pattern }).valueAsString;
  const externalId = parameter('ExternalId', 'External ID of the Cloudcraft user who owns the API key', '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$');
  const cloudcraftAwsAccountId = parameter('CloudcraftAwsAccountId', 'AWS account Cloudcraft assumes roles from', '^\\d{12}$');
  const homeRegion = parameter('HomeRegion', 'The one region where the role is created (IAM is global)', '^[a-z]{2}(-gov)?-[a-z]+-\\d+$');
  const permissionsBoundary = boundaryArn ? iam.ManagedPolicy.fromManagedPolicyArn(stack, 'Boundary', boundaryArn) : undefined;
  const role = new CloudcraftRole(stack, 'Cloudcraft', { ...options, permissionsBoundary, externalId, cloudcraftAwsAccountId });
  // IAM is global: in any region but the home region the stack creates nothing but an empty marker, so a StackSet
  // deployed to several regions creates the role once.
  const isHomeRegion = new CfnCondition(stack, 'IsHomeRegion', { expression: Fn.conditionEquals(Aws.REGION, homeRegion) });
  for (const child of role.node.findAll()) {
    if (child instanceof CfnResource) child.cfnOptions.condition = isHomeRegion;
  }
  new CfnResource(stack, 'RegionMarker', { type: 'AWS::CloudFormation::WaitConditionHandle' });
  return stack;
}

/**
 * The member template is deployed to other accounts, so a permissions boundary is rendered per account: a customer
 * managed policy of the same path and name in each member account (an AWS managed policy as it is). A boundary that
 * is a resource of this app (created in the management stack) cannot be: it is refused.
 */
export function memberBoundaryArn(scope: IConstruct, boundary: iam.IManagedPolicy | undefined): string | undefined {
  if (!boundary) return undefined;
  let resolved: unknown;
  try {
    resolved = new Stack(new App(), 'Probe').resolve(boundary.managedPolicyArn);
  } catch {
    resolved = { 'Fn::GetAtt': 'a resource of this app' };
  }
  let match: RegExpExecArray | null = null;
  if (typeof resolved === 'string') {
    match = /^arn:[^:]+:iam::(\d{12}|aws):policy(\/.+)$/.exec(resolved);
  } else {
    // Fn::Join of literals and pseudo parameters (ManagedPolicy.fromManagedPolicyName in a stack without an account).
    const text = JSON.stringify(resolved);
    if (!/"Ref":"(?!AWS::)|"Fn::GetAtt"|"Fn::ImportValue"|\$\{Token/.test(text)) match = /()"?:policy(\/[^"]+)"\]\]\}$/.exec(text);
  }
  if (!match) {
    throw new CloudcraftValidationError(scope, 'permissionsBoundary', typeof resolved === 'string' ? resolved : '(a policy created in this app)',
      'cannot be used in the member accounts: the member template is deployed to other accounts, which cannot reference a resource of this stack',
      'Create the boundary policy in every member account under one name, and pass iam.ManagedPolicy.fromManagedPolicyName(this, \'Boundary\', \'<name>\').');
  }
  const [, account, policyPath] = match;
  if (account === 'aws') return `arn:${Aws.PARTITION}:iam::aws:policy${policyPath}`;
  return Fn.join('', ['arn:', Aws.PARTITION, ':iam::', Aws.ACCOUNT_ID, `:policy${policyPath}`]);
}
