import { App, CfnParameter, Duration, PhysicalName, Stack, Tags, Token } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { CLOUDCRAFT_ACCOUNT, EXTERNAL_ID, onlyResource, synthRole } from './helpers';
import { CloudcraftAccess, CloudcraftRole } from '../lib';

const PARTITION_ROOT = (account: string) => ({
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::${account}:root`]],
});

describe('CloudcraftRole defaults', () => {
  const { template, construct, stack } = synthRole();
  const role = onlyResource(template, 'AWS::IAM::Role');

  test('trust policy is exactly: Cloudcraft account root, sts:AssumeRole, StringEquals sts:ExternalId, nothing else', () => {
    expect(role.Properties.AssumeRolePolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [{
        Effect: 'Allow',
        Action: 'sts:AssumeRole',
        Principal: { AWS: PARTITION_ROOT(CLOUDCRAFT_ACCOUNT) },
        Condition: { StringEquals: { 'sts:ExternalId': EXTERNAL_ID } },
      }],
    });
    expect(JSON.stringify(role.Properties.AssumeRolePolicyDocument)).not.toMatch(/MultiFactorAuth/);
  });

  test('role name cloudcraft, one-hour sessions, AWS ReadOnlyAccess only', () => {
    expect(role.Properties.RoleName).toBe('cloudcraft');
    expect(role.Properties.MaxSessionDuration).toBe(3600);
    expect(role.Properties.ManagedPolicyArns).toEqual([
      { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/ReadOnlyAccess']] },
    ]);
    expect(role.Properties.Path).toBeUndefined();
    expect(role.Properties.PermissionsBoundary).toBeUndefined();
    expect(role.Properties.Policies).toBeUndefined();
    template.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
    template.resourceCountIs('AWS::IAM::Policy', 0);
  });

  test('default description names Cloudcraft, its account and the access', () => {
    expect(role.Properties.Description).toBe(
      `Assumed by Cloudcraft's AWS account ${CLOUDCRAFT_ACCOUNT} to draw diagrams of this account (ReadOnlyAccess). Managed by cdk-cloudcraft.`);
  });

  test('exposes role, ARN and name', () => {
    expect(stack.resolve(construct.roleArn)).toEqual({ 'Fn::GetAtt': [role.logicalId, 'Arn'] });
    expect(stack.resolve(construct.roleName)).toEqual({ Ref: role.logicalId });
    expect(stack.resolve(construct.role.roleArn)).toEqual({ 'Fn::GetAtt': [role.logicalId, 'Arn'] });
  });
});

describe('CloudcraftRole options', () => {
  test('cloudcraftAwsAccountId overrides the trusted account', () => {
    const { template } = synthRole({ cloudcraftAwsAccountId: '123456789012' });
    expect(onlyResource(template, 'AWS::IAM::Role').Properties.AssumeRolePolicyDocument.Statement[0].Principal)
      .toEqual({ AWS: PARTITION_ROOT('123456789012') });
  });

  test('external ID and account can be tokens (deploy-time values)', () => {
    const app = new App();
    const stack = new Stack(app, 'S');
    const ext = new CfnParameter(stack, 'Ext');
    const acct = new CfnParameter(stack, 'Acct');
    new CloudcraftRole(stack, 'C', { externalId: ext.valueAsString, cloudcraftAwsAccountId: acct.valueAsString });
    const role = onlyResource(Template.fromStack(stack), 'AWS::IAM::Role').Properties;
    expect(role.AssumeRolePolicyDocument.Statement[0].Condition).toEqual({ StringEquals: { 'sts:ExternalId': { Ref: 'Ext' } } });
    expect(role.AssumeRolePolicyDocument.Statement[0].Principal.AWS['Fn::Join'][1]).toContainEqual({ Ref: 'Acct' });
    expect(role.Description).toMatch(/^Assumed by Cloudcraft's AWS account to draw/);
  });

  test('roleName, path, description, boundary and session duration are passed through', () => {
    const app = new App();
    const stack = new Stack(app, 'S');
    const boundary = new iam.ManagedPolicy(stack, 'Boundary', {
      statements: [new iam.PolicyStatement({ actions: ['ec2:Describe*'], resources: ['*'] })],
    });
    new CloudcraftRole(stack, 'C', {
      externalId: EXTERNAL_ID,
      roleName: 'cloudcraft-reader',
      path: '/integrations/',
      description: 'Cloudcraft diagrams',
      permissionsBoundary: boundary,
      maxSessionDuration: Duration.hours(2),
    });
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Role', {
      RoleName: 'cloudcraft-reader',
      Path: '/integrations/',
      Description: 'Cloudcraft diagrams',
      PermissionsBoundary: { Ref: Match.stringLikeRegexp('^Boundary') },
      MaxSessionDuration: 7200,
    });
  });

  test('roleName: PhysicalName.GENERATE_IF_NEEDED leaves the name to CloudFormation', () => {
    const { template } = synthRole({ roleName: PhysicalName.GENERATE_IF_NEEDED });
    expect(onlyResource(template, 'AWS::IAM::Role').Properties.RoleName).toBeUndefined();
  });

  test('tags apply to the role as usual', () => {
    const app = new App();
    const stack = new Stack(app, 'S');
    new CloudcraftRole(stack, 'C', { externalId: EXTERNAL_ID });
    Tags.of(stack).add('team', 'platform');
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Role', { Tags: [{ Key: 'team', Value: 'platform' }] });
  });

  test('the trust uses the partition of the stack (GovCloud)', () => {
    const { template } = synthRole({}, { env: { region: 'us-gov-west-1', account: '111122223333' } });
    const principal = onlyResource(template, 'AWS::IAM::Role').Properties.AssumeRolePolicyDocument.Statement[0].Principal.AWS;
    // With a concrete region CDK may write the partition as a literal or keep the pseudo parameter; either is
    // resolved per partition at deploy time, never hard-coded to "aws".
    expect(JSON.stringify(principal)).not.toMatch(/arn:aws:iam/);
  });
});

describe('CloudcraftAccess', () => {
  test('readOnlyAccess({ denyDataReads: true }) adds one customer managed Deny policy next to ReadOnlyAccess', () => {
    const { template } = synthRole({ access: CloudcraftAccess.readOnlyAccess({ denyDataReads: true }) });
    const policy = onlyResource(template, 'AWS::IAM::ManagedPolicy');
    const statements = policy.Properties.PolicyDocument.Statement;
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatchObject({ Effect: 'Deny', Resource: '*', Sid: 'DenyDataPlaneReads' });
    expect(statements[0].Action).toEqual(expect.arrayContaining(['s3:GetObject', 'secretsmanager:GetSecretValue', 'dynamodb:Scan', 'logs:GetLogEvents']));
    const arns = onlyResource(template, 'AWS::IAM::Role').Properties.ManagedPolicyArns;
    expect(arns).toEqual([
      { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/ReadOnlyAccess']] },
      { Ref: policy.logicalId },
    ]);
    expect(onlyResource(template, 'AWS::IAM::Role').Properties.Description).toContain('(ReadOnlyAccess without data-plane reads)');
  });

  test('minimal() attaches only customer managed policies, dated with the vendored version', () => {
    const { template } = synthRole({ access: CloudcraftAccess.minimal() });
    const policies = template.findResources('AWS::IAM::ManagedPolicy');
    const ids = Object.keys(policies);
    expect(ids.length).toBeGreaterThanOrEqual(1);
    for (const id of ids) {
      expect(policies[id].Properties.Description).toMatch(new RegExp(`version ${CloudcraftAccess.MINIMAL_POLICY_VERSION}, part \\d of ${ids.length}`));
    }
    expect(onlyResource(template, 'AWS::IAM::Role').Properties.ManagedPolicyArns).toEqual(ids.map(id => ({ Ref: id })));
    expect(CloudcraftAccess.MINIMAL_POLICY_VERSION).toBe('2025-01');
  });

  test('minimal() writes API Gateway resource ARNs in the stack partition', () => {
    const { template } = synthRole({ access: CloudcraftAccess.minimal() });
    const text = JSON.stringify(template.findResources('AWS::IAM::ManagedPolicy'));
    expect(text).not.toMatch(/arn:aws:apigateway/);
    expect(text).toMatch(/:apigateway:\*::\/restapis\/\*/);
  });

  test('fromPolicyDocument() attaches the document as one customer managed policy', () => {
    const document = new iam.PolicyDocument({
      statements: [new iam.PolicyStatement({ actions: ['ec2:DescribeVpcs'], resources: ['*'] })],
    });
    const { template } = synthRole({ access: CloudcraftAccess.fromPolicyDocument(document) });
    const policy = onlyResource(template, 'AWS::IAM::ManagedPolicy');
    expect(policy.Properties.PolicyDocument.Statement).toEqual([{ Effect: 'Allow', Action: 'ec2:DescribeVpcs', Resource: '*' }]);
    expect(onlyResource(template, 'AWS::IAM::Role').Properties.ManagedPolicyArns).toEqual([{ Ref: policy.logicalId }]);
  });

  test('fromManagedPolicies() attaches existing policies as they are', () => {
    const { template } = synthRole({
      access: CloudcraftAccess.fromManagedPolicies(iam.ManagedPolicy.fromAwsManagedPolicyName('job-function/ViewOnlyAccess')),
    });
    template.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
    expect(onlyResource(template, 'AWS::IAM::Role').Properties.ManagedPolicyArns).toEqual([
      { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/job-function/ViewOnlyAccess']] },
    ]);
  });
});

describe('validation errors name the prop, the value and the fix', () => {
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['external ID not a UUID', () => synthRole({ externalId: 'my-external-id' }),
      /externalId "my-external-id" is not a lowercase UUID.*Use the External ID that Cloudcraft shows/],
    ['external ID in uppercase', () => synthRole({ externalId: EXTERNAL_ID.toUpperCase() }),
      /externalId "0F1E2D3C-.*" is not a lowercase UUID .*\(it is a UUID, but not in lowercase\)/],
    ['external ID with spaces around', () => synthRole({ externalId: ` ${EXTERNAL_ID}` }), /externalId " 0f1e.*" is not a lowercase UUID/],
    ['Cloudcraft account not 12 digits', () => synthRole({ cloudcraftAwsAccountId: '96889858062' }),
      /cloudcraftAwsAccountId "96889858062" is not a 12-digit AWS account ID. Leave it out to use Cloudcraft's account 968898580625/],
    ['role name too long', () => synthRole({ roleName: 'r'.repeat(65) }), /roleName "r{65}" is 65 characters long; IAM role names are 1 to 64 characters/],
    ['role name empty', () => synthRole({ roleName: '' }), /roleName "" is 0 characters long/],
    ['role name with a slash', () => synthRole({ roleName: 'team/cloudcraft' }),
      /roleName "team\/cloudcraft" has characters IAM does not allow.*Choose a valid IAM role name/],
    ['path without trailing slash', () => synthRole({ path: '/cloudcraft' }), /path "\/cloudcraft" is not a valid IAM path.*Use a path such as "\/cloudcraft\/"/],
    ['path with a space', () => synthRole({ path: '/cloud craft/' }), /path "\/cloud craft\/" is not a valid IAM path/],
    ['path too long', () => synthRole({ path: `/${'p'.repeat(511)}/` }), /path "\/p+\/" is not a valid IAM path/],
    ['China partition', () => synthRole({}, { env: { region: 'cn-north-1', account: '111122223333' } }),
      /the stack partition "aws-cn" is not supported: Cloudcraft cannot read AWS accounts in the China regions/],
    ['empty custom document', () => synthRole({ access: CloudcraftAccess.fromPolicyDocument(new iam.PolicyDocument()) }),
      /access \(CloudcraftAccess.fromPolicyDocument\) "an empty PolicyDocument" grants nothing/],
    ['custom document over 6,144 characters', () => synthRole({
      access: CloudcraftAccess.fromPolicyDocument(new iam.PolicyDocument({
        statements: [new iam.PolicyStatement({ actions: Array.from({ length: 400 }, (_, i) => `ec2:DescribeThing${i}`), resources: ['*'] })],
      })),
    }), /exceeds IAM's limit of 6144 characters.*CloudcraftAccess.fromManagedPolicies/],
    ['no managed policies', () => synthRole({ access: CloudcraftAccess.fromManagedPolicies() }), /0 policies" is not between 1 and 10/],
    ['eleven managed policies', () => synthRole({
      access: CloudcraftAccess.fromManagedPolicies(...Array.from({ length: 11 }, (_, i) => iam.ManagedPolicy.fromManagedPolicyName(new Stack(), `P${i}`, `p${i}`))),
    }), /11 policies" is not between 1 and 10/],
    ['session shorter than an hour', () => synthRole({ maxSessionDuration: Duration.minutes(30) }), /maxSessionDuration/],
  ];

  test.each(cases)('%s', (_name, run, message) => {
    expect(run).toThrow(message);
  });

  test('errors carry the construct path', () => {
    expect(() => synthRole({ externalId: 'x' })).toThrow(/^TestStack\/Cloudcraft: externalId/);
  });

  test('tokens are not validated at synth time', () => {
    const app = new App();
    const stack = new Stack(app, 'S');
    const name = Token.asString({ Ref: 'SomeName' });
    expect(() => new CloudcraftRole(stack, 'C', { externalId: Token.asString({ Ref: 'Ext' }), roleName: name, path: Token.asString({ Ref: 'P' }) })).not.toThrow();
  });

  test('an environment-agnostic stack is accepted (partition known only at deploy time)', () => {
    expect(() => synthRole()).not.toThrow();
  });
});

describe('two Cloudcraft roles of one name in one stack', () => {
  test('fail at synth with one clear error that says what to do', () => {
    const stack = new Stack(new App(), 'Twice');
    new CloudcraftRole(stack, 'First', { externalId: EXTERNAL_ID });
    expect(() => new CloudcraftRole(stack, 'Second', { externalId: EXTERNAL_ID }))
      .toThrow(/Twice\/Second: roleName "cloudcraft" is already the name of the Cloudcraft role Twice\/First in this stack.*includeThisAccount: false/);
  });

  test('are fine with different names, generated names, or in different stacks', () => {
    const app = new App();
    const stack = new Stack(app, 'One');
    new CloudcraftRole(stack, 'First', { externalId: EXTERNAL_ID });
    new CloudcraftRole(stack, 'Second', { externalId: EXTERNAL_ID, roleName: 'cloudcraft-2' });
    new CloudcraftRole(stack, 'Third', { externalId: EXTERNAL_ID, roleName: PhysicalName.GENERATE_IF_NEEDED });
    new CloudcraftRole(stack, 'Fourth', { externalId: EXTERNAL_ID, roleName: PhysicalName.GENERATE_IF_NEEDED });
    new CloudcraftRole(new Stack(app, 'Two'), 'First', { externalId: EXTERNAL_ID });
    expect(Object.keys(Template.fromStack(stack).findResources('AWS::IAM::Role'))).toHaveLength(4);
  });
});
