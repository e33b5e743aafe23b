import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { AWS_REFS, EXTERNAL_ID, onlyResource, resolveCfn, simulate, TARGET_ACCOUNT } from './helpers';
import { CloudcraftAccountName, CloudcraftApiKey, CloudcraftIntegration, CloudcraftRegistration, CloudcraftRole } from '../lib';

const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:111122223333:secret:cloudcraft/api-key-AbCdEf';

function stack(): Stack {
  return new Stack(new App(), 'S');
}

function secretKey(scope: Stack, options: { encryptionKey?: kms.IKey; jsonField?: string } = {}): CloudcraftApiKey {
  const secret = secretsmanager.Secret.fromSecretAttributes(scope, 'Key', { secretCompleteArn: SECRET_ARN, encryptionKey: options.encryptionKey });
  return CloudcraftApiKey.fromSecret(secret, { jsonField: options.jsonField });
}

describe('CloudcraftIntegration', () => {
  test('without externalId: reads iamParameters at deploy time and feeds it to the trust policy', () => {
    const s = stack();
    const integration = new CloudcraftIntegration(s, 'Cloudcraft', { apiKey: secretKey(s), accountName: CloudcraftAccountName.of('production') });
    const t = Template.fromStack(s);
    const params = onlyResource(t, 'Custom::CloudcraftIamParameters');
    const roles = t.findResources('AWS::IAM::Role', { Properties: { RoleName: 'cloudcraft' } });
    const role = Object.values(roles)[0].Properties;
    expect(role.AssumeRolePolicyDocument.Statement[0].Condition).toEqual({ StringEquals: { 'sts:ExternalId': { 'Fn::GetAtt': [params.logicalId, 'ExternalId'] } } });
    expect(JSON.stringify(role.AssumeRolePolicyDocument.Statement[0].Principal)).toContain(`"Fn::GetAtt":["${params.logicalId}","AccountId"]`);
    expect(s.resolve(integration.externalId)).toEqual({ 'Fn::GetAtt': [params.logicalId, 'ExternalId'] });
    const registration = onlyResource(t, 'Custom::CloudcraftRegistration');
    expect(s.resolve(integration.registrationId)).toEqual({ 'Fn::GetAtt': [registration.logicalId, 'RegistrationId'] });
  });

  test('with externalId: no iamParameters resource; Cloudcraft\'s default account is trusted', () => {
    const s = stack();
    new CloudcraftIntegration(s, 'Cloudcraft', { apiKey: secretKey(s), accountName: CloudcraftAccountName.of('production'), externalId: EXTERNAL_ID });
    const t = Template.fromStack(s);
    t.resourceCountIs('Custom::CloudcraftIamParameters', 0);
    t.hasResourceProperties('AWS::IAM::Role', {
      RoleName: 'cloudcraft',
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Condition: { StringEquals: { 'sts:ExternalId': EXTERNAL_ID } } })] },
    });
  });

  test('registration properties: every field, all references, no key', () => {
    const s = stack();
    new CloudcraftIntegration(s, 'Cloudcraft', {
      apiKey: secretKey(s, { jsonField: 'key' }),
      accountName: CloudcraftAccountName.of('production'),
      externalId: EXTERNAL_ID,
      readAccessTeams: ['team-a'],
      writeAccessTeams: ['team-b'],
      verificationRegion: 'eu-west-1',
      removalPolicy: RemovalPolicy.RETAIN,
      removeAdoptedRegistration: true,
      apiUrl: 'https://api.gov.example.com',
    });
    const t = Template.fromStack(s);
    const registration = onlyResource(t, 'Custom::CloudcraftRegistration');
    const role = Object.entries(t.findResources('AWS::IAM::Role', { Properties: { RoleName: 'cloudcraft' } }))[0];
    expect(registration.Properties).toEqual({
      ServiceToken: { 'Fn::GetAtt': [expect.stringMatching(/^CloudcraftHandlerFunction/), 'Arn'] },
      ServiceTimeout: '960',
      ApiUrl: 'https://api.gov.example.com',
      ApiKeySource: 'secretsmanager',
      ApiKeyId: SECRET_ARN,
      ApiKeyField: 'key',
      AccountName: 'production',
      RoleArn: { 'Fn::GetAtt': [role[0], 'Arn'] },
      Region: 'eu-west-1',
      ReadAccess: ['team-a'],
      WriteAccess: ['team-b'],
      RemovalPolicy: 'retain',
      RemoveAdopted: 'true',
      ExternalId: EXTERNAL_ID, // the one the role trusts: a registration made with another is not adopted
    });
    // CloudFormation keeps the resource itself on delete only through the handler's RETAIN: its DeletionPolicy stays Delete.
    expect(t.toJSON().Resources[registration.logicalId].DeletionPolicy).toBe('Delete');
  });

  test('the registration waits for the role and its policies', () => {
    const s = stack();
    new CloudcraftIntegration(s, 'Cloudcraft', { apiKey: secretKey(s), accountName: CloudcraftAccountName.of('p'), externalId: EXTERNAL_ID });
    const t = Template.fromStack(s).toJSON();
    const [id] = Object.keys(t.Resources).filter(k => t.Resources[k].Type === 'Custom::CloudcraftRegistration');
    const roleId = Object.keys(t.Resources).find(k => t.Resources[k].Properties?.RoleName === 'cloudcraft');
    expect(t.Resources[id].DependsOn).toEqual(expect.arrayContaining([roleId]));
  });
});

describe('the handler function', () => {
  test('one per stack, however many Cloudcraft resources; Node.js 24, inline code, explicit log group', () => {
    const s = stack();
    const key = secretKey(s);
    new CloudcraftIntegration(s, 'A', { apiKey: key, accountName: CloudcraftAccountName.of('a'), roleName: 'cloudcraft-a' });
    new CloudcraftIntegration(s, 'B', { apiKey: key, accountName: CloudcraftAccountName.of('b'), roleName: 'cloudcraft-b' });
    const t = Template.fromStack(s);
    t.resourceCountIs('AWS::Lambda::Function', 1);
    t.resourceCountIs('Custom::CloudcraftRegistration', 2);
    const fn = onlyResource(t, 'AWS::Lambda::Function').Properties;
    expect(fn.Runtime).toBe('nodejs24.x');
    expect(fn.Handler).toBe('index.handler');
    expect(typeof fn.Code.ZipFile).toBe('string');
    expect(fn.Code.ZipFile).toMatch(/exports/);
    expect(fn.Code.S3Bucket).toBeUndefined();
    expect(fn.Timeout).toBe(900);
    const logGroup = onlyResource(t, 'AWS::Logs::LogGroup');
    expect(logGroup.Properties.RetentionInDays).toBe(365);
    expect(fn.LoggingConfig).toEqual({ LogGroup: { Ref: logGroup.logicalId } });
    // No retry; an event queued past the margin between Lambda's 15 min and CloudFormation's 16 min is dropped.
    t.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 });
    for (const registration of Object.values(t.findResources('Custom::CloudcraftRegistration'))) {
      expect(Number(registration.Properties.ServiceTimeout) - fn.Timeout).toBeGreaterThanOrEqual(60);
    }
    expect(Object.keys(t.findResources('AWS::CloudFormation::CustomResource'))).toHaveLength(0);
  });

  test('its role: only the key and its own log group, in a customer managed policy; no AWSLambdaBasicExecutionRole', () => {
    const s = stack();
    new CloudcraftIntegration(s, 'Cloudcraft', { apiKey: secretKey(s), accountName: CloudcraftAccountName.of('p'), externalId: EXTERNAL_ID });
    const t = Template.fromStack(s);
    const fnRoleId = onlyResource(t, 'AWS::Lambda::Function').Properties.Role['Fn::GetAtt'][0];
    const fnRole = t.toJSON().Resources[fnRoleId].Properties;
    expect(fnRole.AssumeRolePolicyDocument.Statement).toEqual([{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } }]);
    expect(JSON.stringify(fnRole)).not.toMatch(/AWSLambdaBasicExecutionRole/);
    t.resourceCountIs('AWS::IAM::Policy', 0);
    const policies = t.findResources('AWS::IAM::ManagedPolicy');
    const [policy] = Object.values(policies).filter(p => JSON.stringify(p).includes('secretsmanager'));
    const statements = policy.Properties.PolicyDocument.Statement;
    const actions = statements.flatMap((st: any) => [st.Action].flat()).sort();
    expect(actions).toEqual(['cloudformation:ListStackResources', 'logs:CreateLogStream', 'logs:PutLogEvents', 'secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue']);
    const secretStatement = statements.find((st: any) => JSON.stringify(st.Action).includes('secretsmanager'));
    expect(secretStatement.Resource).toBe(SECRET_ARN);
  });

  test('its role lists the resources of its own stack, and of no other (IAM policy engine)', async () => {
    const s = stack();
    new CloudcraftIntegration(s, 'Cloudcraft', { apiKey: secretKey(s), accountName: CloudcraftAccountName.of('p'), externalId: EXTERNAL_ID });
    const t = Template.fromStack(s);
    const own = `arn:aws:cloudformation:us-east-1:${TARGET_ACCOUNT}:stack/S/0f1e2d3c-aaaa-4bbb-8ccc-123456789012`;
    const logs = onlyResource(t, 'AWS::Logs::LogGroup').logicalId;
    const refs = { ...AWS_REFS, 'AWS::StackId': own, 'AWS::StackName': 'S', [`${logs}.Arn`]: `arn:aws:logs:us-east-1:${TARGET_ACCOUNT}:log-group:handler:*` };
    const fnRoleId = onlyResource(t, 'AWS::Lambda::Function').Properties.Role['Fn::GetAtt'][0];
    const policies = Object.entries(t.findResources('AWS::IAM::ManagedPolicy'))
      .filter(([, p]) => JSON.stringify(p.Properties.Roles).includes(fnRoleId))
      .map(([name, p]) => ({ name, policy: resolveCfn(p.Properties.PolicyDocument, refs) }));
    expect(policies.length).toBeGreaterThan(0);
    const decide = (action: string, resource: string) =>
      simulate({ principal: `arn:aws:sts::${TARGET_ACCOUNT}:assumed-role/handler/fn`, action, resource, accountId: TARGET_ACCOUNT }, { identity: policies });
    expect(await decide('cloudformation:ListStackResources', own)).toBe('Allowed');
    // Another stack of the account (or a stack of the same name, deleted and created again) is not readable.
    expect(await decide('cloudformation:ListStackResources', `arn:aws:cloudformation:us-east-1:${TARGET_ACCOUNT}:stack/Other/0f1e2d3c-aaaa-4bbb-8ccc-123456789012`)).toBe('ImplicitlyDenied');
    expect(await decide('cloudformation:ListStackResources', `arn:aws:cloudformation:us-east-1:${TARGET_ACCOUNT}:stack/S/99999999-aaaa-4bbb-8ccc-123456789012`)).toBe('ImplicitlyDenied');
    for (const action of ['cloudformation:DescribeStacks', 'cloudformation:DeleteStack', 'cloudformation:GetTemplate']) {
      expect(await decide(action, own)).toBe('ImplicitlyDenied');
    }
  });

  test('a customer managed KMS key of the secret: kms:Decrypt for the handler', () => {
    const s = stack();
    const key = kms.Key.fromKeyArn(s, 'Cmk', 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab');
    new CloudcraftIntegration(s, 'Cloudcraft', { apiKey: secretKey(s, { encryptionKey: key }), accountName: CloudcraftAccountName.of('p'), externalId: EXTERNAL_ID });
    const text = JSON.stringify(Template.fromStack(s).findResources('AWS::IAM::ManagedPolicy'));
    expect(text).toContain('kms:Decrypt');
    expect(text).toContain('arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab');
  });

  test('an SSM SecureString parameter with a customer managed key', () => {
    const s = stack();
    const key = kms.Key.fromKeyArn(s, 'Cmk', 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab');
    const parameter = ssm.StringParameter.fromSecureStringParameterAttributes(s, 'Param', { parameterName: '/cloudcraft/api-key', encryptionKey: key });
    new CloudcraftIntegration(s, 'Cloudcraft', { apiKey: CloudcraftApiKey.fromSecureStringParameter(parameter), accountName: CloudcraftAccountName.of('p'), externalId: EXTERNAL_ID });
    const t = Template.fromStack(s);
    const registration = onlyResource(t, 'Custom::CloudcraftRegistration').Properties;
    expect(registration.ApiKeySource).toBe('ssm');
    expect(JSON.stringify(registration.ApiKeyId)).toContain(':parameter/cloudcraft/api-key');
    const text = JSON.stringify(t.findResources('AWS::IAM::ManagedPolicy'));
    expect(text).toContain('ssm:GetParameter');
    expect(text).toContain('kms:Decrypt');
  });
});

describe('account naming', () => {
  test('fromAlias: the pattern goes to the handler, which may read the alias (iam:ListAccountAliases, acknowledged)', () => {
    const s = stack();
    new CloudcraftIntegration(s, 'Cloudcraft', { apiKey: secretKey(s), accountName: CloudcraftAccountName.fromAlias(), externalId: EXTERNAL_ID });
    const t = Template.fromStack(s);
    const properties = onlyResource(t, 'Custom::CloudcraftRegistration').Properties;
    expect(properties.AccountNamePattern).toBe('{alias}');
    expect(properties.AccountName).toBeUndefined();
    expect(JSON.stringify(t.findResources('AWS::IAM::ManagedPolicy'))).toContain('iam:ListAccountAliases');
  });

  test('{accountId} alone needs no alias permission', () => {
    const s = stack();
    new CloudcraftIntegration(s, 'Cloudcraft', { apiKey: secretKey(s), accountName: CloudcraftAccountName.fromPattern('aws-{accountId}'), externalId: EXTERNAL_ID });
    expect(JSON.stringify(Template.fromStack(s).findResources('AWS::IAM::ManagedPolicy'))).not.toContain('iam:ListAccountAliases');
  });
});

describe('CloudcraftRegistration of an existing role', () => {
  test('registers a role made elsewhere (by interface)', () => {
    const s = stack();
    const role = iam.Role.fromRoleArn(s, 'Existing', 'arn:aws:iam::111122223333:role/existing-cloudcraft');
    new CloudcraftRegistration(s, 'Reg', { role, apiKey: secretKey(s), accountName: CloudcraftAccountName.of('legacy') });
    const t = Template.fromStack(s);
    expect(onlyResource(t, 'Custom::CloudcraftRegistration').Properties.RoleArn).toBe('arn:aws:iam::111122223333:role/existing-cloudcraft');
  });

  test('composes with CloudcraftRole', () => {
    const s = stack();
    const role = new CloudcraftRole(s, 'Role', { externalId: EXTERNAL_ID });
    new CloudcraftRegistration(s, 'Reg', { role: role.role, apiKey: secretKey(s), accountName: CloudcraftAccountName.of('p') });
    Template.fromStack(s).resourceCountIs('Custom::CloudcraftRegistration', 1);
  });
});

describe('validation', () => {
  const make = (over: Record<string, unknown>) => () => {
    const s = stack();
    new CloudcraftIntegration(s, 'Cloudcraft', { apiKey: secretKey(s), accountName: CloudcraftAccountName.of('p'), externalId: EXTERNAL_ID, ...over } as any);
  };

  test.each([
    ['apiUrl not https', { apiUrl: 'http://api.cloudcraft.co' }, /apiUrl "http:\/\/api.cloudcraft.co" is not an https:\/\/ URL. Leave it out for https:\/\/api.cloudcraft.co/],
    ['empty account name', { accountName: CloudcraftAccountName.of('  ') }, /accountName "  " is empty/],
    ['team with prefix', { readAccessTeams: ['team/abc'] }, /readAccessTeams "team\/abc" is not a Cloudcraft team ID. Give the bare team ID/],
    ['bad write team', { writeAccessTeams: ['a b'] }, /writeAccessTeams "a b" is not a Cloudcraft team ID/],
    ['bad region', { verificationRegion: 'europe' }, /verificationRegion "europe" is not an AWS region Cloudcraft can use/],
    ['China region', { verificationRegion: 'cn-north-1' }, /verificationRegion "cn-north-1"/],
    ['snapshot removal', { removalPolicy: RemovalPolicy.SNAPSHOT }, /removalPolicy "snapshot" is not supported. Use RemovalPolicy.DESTROY/],
    ['role options still validated', { roleName: 'a/b' }, /roleName "a\/b" has characters IAM does not allow/],
    ['no account name', { accountName: undefined }, /accountName null is missing. Give CloudcraftAccountName.of/],
    ['a names map with a bad account ID', { accountName: CloudcraftAccountName.fromAlias({ names: { 12345: 'x' } }) },
      /accountName names \{"12345":"x"\} is not a 12-digit account ID/],
    ['a pattern without a placeholder', { accountName: CloudcraftAccountName.fromPattern('prod') }, /accountName pattern "prod" has none of \{alias\}, \{name\} and \{accountId\}/],
    ['a name from AWS Organizations in one account', { accountName: CloudcraftAccountName.fromOrganizationName() },
      /accountName "\{name\}" uses \{name\}, the account's name in AWS Organizations, which only the Organization registrar reads. Use \{alias\}/],
  ])('%s', (_name, over, message) => {
    expect(make(over)).toThrow(message);
  });

  test('an empty jsonField is refused', () => {
    const s = stack();
    const secret = secretsmanager.Secret.fromSecretAttributes(s, 'K', { secretCompleteArn: SECRET_ARN });
    expect(() => CloudcraftApiKey.fromSecret(secret, { jsonField: ' ' })).toThrow(/jsonField "" is empty|jsonField/);
  });

  test('localhost http is accepted (local emulators)', () => {
    expect(make({ apiUrl: 'http://127.0.0.1:8080' })).not.toThrow();
  });
});
