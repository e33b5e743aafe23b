/**
 * The Organization rollout: the management stack (registrar, ledger, StackSet, triggers, alarm) and the member
 * template it deploys (the Cloudcraft role only). The key's confinement is checked with an IAM policy engine.
 */
import { App, Duration, PhysicalName, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks, ServerlessChecks } from 'cdk-nag';
import { resolveCfn, simulate } from './helpers';
import { CloudcraftOrganizationExampleStack } from '../examples/cloudcraft-organization-example-stack';
import {
  CloudcraftAccess, CloudcraftAccountFilter, CloudcraftAccountName, CloudcraftApiKey, CloudcraftOrganizationIntegration,
  CloudcraftOrganizationIntegrationProps,
} from '../lib';
import { addMemberStack } from '../lib/organization/member-template';
import { CONFIG_VARIABLE, parseConfig, roleArnOf } from '../lib/organization/registrar/config';

const MANAGEMENT = '111122223333';
const MEMBER = '222233334444';
const PACKS = [AwsSolutionsChecks, NIST80053R5Checks, HIPAASecurityChecks, PCIDSS321Checks, ServerlessChecks];

function organization(over: Partial<CloudcraftOrganizationIntegrationProps> = {}, context: Record<string, unknown> = {},
  account: string | null = MANAGEMENT) {
  const app = new App({ context });
  const stack = new Stack(app, 'Org', { env: { account: account ?? undefined, region: 'us-east-1' } });
  const construct = new CloudcraftOrganizationIntegration(stack, 'Cloudcraft', {
    apiKey: CloudcraftApiKey.fromSecret(secretsmanager.Secret.fromSecretNameV2(stack, 'Key', 'cloudcraft/api-key')),
    organizationalUnitIds: ['ou-ab12-cdef3456'],
    ...over,
  });
  return { app, stack, construct, template: Template.fromStack(stack) };
}

function onlyOf(template: Template, type: string): any {
  const found = Object.values(template.findResources(type));
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0];
}

function memberOf(template: Template): any {
  return JSON.parse(onlyOf(template, 'AWS::CloudFormation::StackSet').Properties.TemplateBody);
}

function findings(stack: Stack): string[] {
  return PACKS.flatMap(Pack => new Pack().validateScope(stack).violations.flatMap(v => v.violatingResources.map(r => `${v.ruleName} @ ${r.constructPath}`)));
}

const base = organization();
const member = memberOf(base.template);

describe('member template', () => {
  test('the Cloudcraft role only: no function, secret, key or custom resource', () => {
    const types = Object.values(member.Resources).map((r: any) => r.Type).sort();
    expect(types).toEqual(['AWS::CloudFormation::WaitConditionHandle', 'AWS::IAM::Role']);
    expect(JSON.stringify(member)).not.toMatch(/Lambda|SecretsManager|KMS|Custom::|ZipFile|cdk-bootstrap|assets/);
    expect(Object.keys(member.Parameters).sort()).toEqual(['CloudcraftAwsAccountId', 'ExternalId', 'HomeRegion']);
    expect(member.Transform).toBeUndefined();
    expect(member.Rules).toBeUndefined();
  });

  test('size reported; at most 10 KB with the minimal policy (goal), and under the 51,200-byte inline limit', () => {
    const minimal = memberOf(organization({ access: CloudcraftAccess.minimal() }).template);
    const bytes = { readOnlyAccess: Buffer.byteLength(JSON.stringify(member)), minimal: Buffer.byteLength(JSON.stringify(minimal)) };
    process.stdout.write(`member template bytes: ${JSON.stringify(bytes)}\n`);
    expect(bytes.minimal).toBeLessThanOrEqual(10_240);
    expect(bytes.readOnlyAccess).toBeLessThanOrEqual(bytes.minimal);
  });

  test('no account or region from synth time', () => {
    const text = JSON.stringify(member);
    expect(text).not.toMatch(new RegExp(`${MANAGEMENT}|${MEMBER}`));
    expect(text).not.toMatch(/\b(us|eu|ap|sa|ca|me|af|il|mx)-(gov-)?(east|west|north|south|central|northeast|southeast|northwest|southwest)-\d\b/);
  });

  test('home-region guard: deployed in two regions of one account, one role', () => {
    const evaluate = (condition: any, region: string): boolean => {
      const [a, b] = condition['Fn::Equals'].map((x: any) => resolveCfn(x, { 'AWS::Region': region, 'HomeRegion': 'us-east-1' }));
      return a === b;
    };
    let roles = 0;
    for (const region of ['us-east-1', 'eu-west-1']) {
      for (const resource of Object.values(member.Resources) as any[]) {
        const on = resource.Condition === undefined || evaluate(member.Conditions[resource.Condition], region);
        if (on && resource.Type === 'AWS::IAM::Role') roles++;
      }
    }
    expect(roles).toBe(1);
  });

  test('cdk-nag packs and schema validation as errors pass on it', () => {
    const app = new App({ context: { '@aws-cdk/core:validateAgainstDefaultRules': true } });
    const stack = addMemberStack(app, { access: CloudcraftAccess.minimal() });
    expect(findings(stack)).toEqual([]);
    Validations.of(app).addPlugins(...PACKS.map(Pack => new Pack()));
    expect(() => app.synth()).not.toThrow();
  });

  test('a permissions boundary is rendered per member account, by name', () => {
    const stack = new Stack(new App(), 'Names');
    const { template } = organization({ permissionsBoundary: iam.ManagedPolicy.fromManagedPolicyName(stack, 'B', 'boundary') });
    const role = Object.values(memberOf(template).Resources).find((r: any) => r.Type === 'AWS::IAM::Role') as any;
    expect(resolveCfn(role.Properties.PermissionsBoundary, { 'AWS::Partition': 'aws', 'AWS::AccountId': MEMBER })).toBe(`arn:aws:iam::${MEMBER}:policy/boundary`);
    const imported = organization({ permissionsBoundary: iam.ManagedPolicy.fromManagedPolicyArn(stack, 'I', `arn:aws:iam::${MANAGEMENT}:policy/team/boundary`) });
    const role2 = Object.values(memberOf(imported.template).Resources).find((r: any) => r.Type === 'AWS::IAM::Role') as any;
    expect(resolveCfn(role2.Properties.PermissionsBoundary, { 'AWS::Partition': 'aws', 'AWS::AccountId': MEMBER })).toBe(`arn:aws:iam::${MEMBER}:policy/team/boundary`);
  });

  test('a permissions boundary created in this app is refused with what to do', () => {
    const app = new App();
    const stack = new Stack(app, 'Org', { env: { account: MANAGEMENT, region: 'us-east-1' } });
    const boundary = new iam.ManagedPolicy(stack, 'Boundary', { statements: [new iam.PolicyStatement({ actions: ['s3:Get*'], resources: ['*'] })] });
    expect(() => new CloudcraftOrganizationIntegration(stack, 'C', {
      apiKey: CloudcraftApiKey.fromSecret(secretsmanager.Secret.fromSecretNameV2(stack, 'K', 'k')),
      organizationalUnitIds: ['r-ab12'],
      permissionsBoundary: boundary,
    })).toThrow(/permissionsBoundary .* cannot be used in the member accounts.*fromManagedPolicyName/);
  });
});

describe('StackSet', () => {
  test('service-managed, auto-deployment, home region only, parameters from this stack', () => {
    const stackSet = onlyOf(base.template, 'AWS::CloudFormation::StackSet').Properties;
    expect(stackSet).toMatchObject({
      PermissionModel: 'SERVICE_MANAGED',
      CallAs: 'SELF',
      AutoDeployment: { Enabled: true, RetainStacksOnAccountRemoval: false },
      Capabilities: ['CAPABILITY_NAMED_IAM'],
      StackInstancesGroup: [{ Regions: ['us-east-1'], DeploymentTargets: { OrganizationalUnitIds: ['ou-ab12-cdef3456'] } }],
    });
    const parameters = Object.fromEntries(stackSet.Parameters.map((p: any) => [p.ParameterKey, p.ParameterValue]));
    expect(parameters.ExternalId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^CloudcraftIamParameters/), 'ExternalId'] });
    expect(parameters.HomeRegion).toBe('us-east-1');
  });

  test('the external ID is read again when the key changes (another key may be another Cloudcraft user\'s)', () => {
    const keyOf = (name: string) => {
      const app = new App();
      const stack = new Stack(app, 'Management', { env: { account: MANAGEMENT, region: 'us-east-1' } });
      new CloudcraftOrganizationIntegration(stack, 'Cloudcraft', {
        apiKey: CloudcraftApiKey.fromSecret(secretsmanager.Secret.fromSecretNameV2(stack, 'Key', name)),
        organizationalUnitIds: ['ou-ab12-cdef3456'],
      });
      return onlyOf(Template.fromStack(stack), 'Custom::CloudcraftIamParameters').Properties;
    };
    expect(keyOf('cloudcraft/api-key')).toEqual(keyOf('cloudcraft/api-key'));
    expect(keyOf('cloudcraft/api-key')).not.toEqual(keyOf('cloudcraft/other-key'));
  });

  test.each([
    [{}, 100, 10],
    [{ maxConcurrentPercentage: 25, failureTolerancePercentage: 0 }, 25, 0],
  ])('the real concurrency is the configured one (%j): SOFT_FAILURE_TOLERANCE, so failures do not lower it', (over, concurrency, tolerance) => {
    const preferences = onlyOf(organization(over).template, 'AWS::CloudFormation::StackSet').Properties.OperationPreferences;
    expect(preferences).toEqual({ ConcurrencyMode: 'SOFT_FAILURE_TOLERANCE', MaxConcurrentPercentage: concurrency, FailureTolerancePercentage: tolerance, RegionConcurrencyType: 'PARALLEL' });
    // StackSets' rule (API_StackSetOperationPreferences): STRICT runs min(max, tolerance + 1); SOFT runs max.
    const real = (p: any) => (p.ConcurrencyMode === 'SOFT_FAILURE_TOLERANCE' ? p.MaxConcurrentPercentage : Math.min(p.MaxConcurrentPercentage, p.FailureTolerancePercentage + 1));
    expect(real(preferences)).toBe(concurrency);
  });

  test('from a delegated administrator, this account is excluded from the targets (it has its own role)', () => {
    const none = onlyOf(organization({ delegatedAdmin: true }).template, 'AWS::CloudFormation::StackSet').Properties;
    expect(none).toMatchObject({ CallAs: 'DELEGATED_ADMIN', StackInstancesGroup: [{ DeploymentTargets: { AccountFilterType: 'DIFFERENCE', Accounts: [MANAGEMENT] } }] });
    const except = onlyOf(organization({ delegatedAdmin: true, accountFilter: CloudcraftAccountFilter.exceptAccounts('444455556666') }).template, 'AWS::CloudFormation::StackSet').Properties;
    expect(except.StackInstancesGroup[0].DeploymentTargets).toMatchObject({ AccountFilterType: 'DIFFERENCE', Accounts: ['444455556666', MANAGEMENT] });
    const only = onlyOf(organization({ delegatedAdmin: true, accountFilter: CloudcraftAccountFilter.onlyAccounts('444455556666', MANAGEMENT) }).template, 'AWS::CloudFormation::StackSet').Properties;
    expect(only.StackInstancesGroup[0].DeploymentTargets).toMatchObject({ AccountFilterType: 'INTERSECTION', Accounts: ['444455556666'] });
    const notIncluded = onlyOf(organization({ delegatedAdmin: true, includeThisAccount: false }).template, 'AWS::CloudFormation::StackSet').Properties;
    expect(notIncluded.StackInstancesGroup[0].DeploymentTargets.AccountFilterType).toBeUndefined();
  });

  test('the management account gets its role from this stack (StackSets never deploy there), or not', () => {
    expect(Object.values(base.template.findResources('AWS::IAM::Role')).filter((r: any) => r.Properties.RoleName === 'cloudcraft')).toHaveLength(1);
    expect(Object.values(organization({ includeThisAccount: false }).template.findResources('AWS::IAM::Role')).filter((r: any) => r.Properties.RoleName === 'cloudcraft')).toHaveLength(0);
  });
});

describe('registrar', () => {
  const fn = onlyOf(base.template, 'AWS::Lambda::Function').Properties;
  const config = parseConfig(resolveCfn(fn.Environment.Variables[CONFIG_VARIABLE], {
    'AWS::Partition': 'aws',
    'AWS::Region': 'us-east-1',
    'AWS::AccountId': MANAGEMENT,
    'AWS::URLSuffix': 'amazonaws.com',
    [Object.keys(base.template.findResources('AWS::DynamoDB::Table'))[0]]: 'ledger-table',
  }));

  test('one writer: reserved concurrency 1, Node.js 24, inline code, 15 minutes', () => {
    expect(fn).toMatchObject({ ReservedConcurrentExecutions: 1, Runtime: 'nodejs24.x', Timeout: 900 });
    expect(typeof fn.Code.ZipFile).toBe('string');
  });

  test('its configuration names the key by reference, the ledger, the StackSet, the targets and the role', () => {
    expect(config).toMatchObject({
      apiUrl: 'https://api.cloudcraft.co',
      apiKey: { source: 'secretsmanager' },
      ledgerTable: 'ledger-table',
      stackSetName: 'cloudcraft-integration',
      callAs: 'SELF',
      homeRegion: 'us-east-1',
      targets: ['ou-ab12-cdef3456'],
      role: { partition: 'aws', path: '/', name: 'cloudcraft' },
      naming: { pattern: '{name}', names: {} },
      access: { read: null, write: null },
      graceMs: 86_400_000,
    });
  });

  test('this account\'s own role is in the configuration, as the ARN of the role the stack creates (or absent)', () => {
    const [role] = Object.values(base.template.findResources('AWS::IAM::Role')).filter((r: any) => r.Properties.RoleName === 'cloudcraft') as any[];
    // The registrar builds the ARN with the members' role name and path: the same as the role this stack creates.
    expect(config.thisAccount).toEqual({ accountId: MANAGEMENT });
    expect(roleArnOf(config, MANAGEMENT)).toBe(`arn:aws:iam::${MANAGEMENT}:role${role.Properties.Path ?? '/'}${role.Properties.RoleName}`);
    const withPath = organization({ roleName: 'cloudcraft-reader', path: '/cloudcraft/' });
    const pathRole = Object.values(withPath.template.findResources('AWS::IAM::Role')).find((r: any) => r.Properties.RoleName === 'cloudcraft-reader') as any;
    const pathConfig = parseConfig(resolveCfn(onlyOf(withPath.template, 'AWS::Lambda::Function').Properties.Environment.Variables[CONFIG_VARIABLE], {
      'AWS::Partition': 'aws',
      'AWS::Region': 'us-east-1',
      'AWS::AccountId': MANAGEMENT,
      'AWS::URLSuffix': 'amazonaws.com',
      [Object.keys(withPath.template.findResources('AWS::DynamoDB::Table'))[0]]: 'ledger-table',
    }));
    expect(roleArnOf(pathConfig, pathConfig.thisAccount!.accountId)).toBe(`arn:aws:iam::${MANAGEMENT}:role${pathRole.Properties.Path}${pathRole.Properties.RoleName}`);
    const without = onlyOf(organization({ includeThisAccount: false }).template, 'AWS::Lambda::Function').Properties.Environment.Variables[CONFIG_VARIABLE];
    expect(JSON.stringify(without)).not.toMatch(/thisAccount/);
  });

  test('a deployment that changes the configuration or the OUs updates the registrar\'s resource (which reconciles)', () => {
    const props = (o: Partial<CloudcraftOrganizationIntegrationProps> = {}) =>
      onlyOf(organization(o).template, 'Custom::CloudcraftOrganizationRegistrar').Properties;
    expect(props()).toEqual(props()); // deterministic: the same app, no Update
    expect(props().ConfigurationDigest).toMatch(/^[0-9a-f]{32}$/);
    expect(props({ deregistrationGracePeriod: Duration.days(3) }).ConfigurationDigest).not.toBe(props().ConfigurationDigest);
    expect(props({ readAccessTeams: ['team-a'] }).ConfigurationDigest).not.toBe(props().ConfigurationDigest);
    expect(props({ organizationalUnitIds: ['ou-ab12-00000002'] }).Targets).toEqual(['ou-ab12-00000002']);
    // The schedule is not the registrar's configuration: no Update.
    expect(props({ schedule: events.Schedule.rate(Duration.minutes(30)) }).ConfigurationDigest).toBe(props().ConfigurationDigest);
  });

  test('the ledger: on demand, encrypted, point-in-time recovery, retained', () => {
    const table = onlyOf(base.template, 'AWS::DynamoDB::Table');
    expect(table.Properties).toMatchObject({ BillingMode: 'PAY_PER_REQUEST', SSESpecification: { SSEEnabled: true }, PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } });
    expect(table.DeletionPolicy).toBe('Retain');
    expect(onlyOf(organization({ ledgerRemovalPolicy: RemovalPolicy.DESTROY }).template, 'AWS::DynamoDB::Table').DeletionPolicy).toBe('Delete');
  });

  test('triggers: the StackSet\'s instance events, a schedule (hourly by default), and each deployment', () => {
    const rules = Object.values(base.template.findResources('AWS::Events::Rule')).map((r: any) => r.Properties);
    const byEvent = rules.find(r => r.EventPattern)!;
    expect(byEvent.EventPattern).toMatchObject({ 'source': ['aws.cloudformation'], 'detail-type': ['CloudFormation StackSet StackInstance Status Change'] });
    expect(resolveCfn(byEvent.EventPattern.detail, { 'AWS::Partition': 'aws' })).toEqual({ 'stack-set-arn': [{ wildcard: 'arn:aws:cloudformation:us-east-1:*:stackset/cloudcraft-integration:*' }] });
    expect(rules.find(r => r.ScheduleExpression)!.ScheduleExpression).toBe('rate(1 hour)');
    base.template.resourceCountIs('Custom::CloudcraftOrganizationRegistrar', 1);
    const custom = organization({ schedule: events.Schedule.rate(Duration.minutes(30)) }).template;
    expect(Object.values(custom.findResources('AWS::Events::Rule')).map((r: any) => r.Properties.ScheduleExpression)).toContain('rate(30 minutes)');
  });

  test('an alarm when accounts stay unregistered, or the registrar stops reporting', () => {
    const alarm = onlyOf(base.template, 'AWS::CloudWatch::Alarm').Properties;
    expect(alarm).toMatchObject({ MetricName: 'AccountsUnregistered', Namespace: 'cdk-cloudcraft', Threshold: 1, EvaluationPeriods: 3, TreatMissingData: 'breaching' });
  });

  test('from a delegated administrator: the StackSet lives in the management account (its ARN names that account), and CallAs DELEGATED_ADMIN needs ListDelegatedAdministrators', () => {
    const { template } = organization({ delegatedAdmin: true });
    const statements = Object.values(template.findResources('AWS::IAM::ManagedPolicy')).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    const read = statements.find((s: any) => s.Sid === 'ReadTheStackInstances');
    expect(resolveCfn(read.Resource, { 'AWS::Partition': 'aws' })).toBe('arn:aws:cloudformation:us-east-1:*:stackset/cloudcraft-integration:*');
    expect(statements.find((s: any) => s.Sid === 'ActAsDelegatedAdministrator')).toMatchObject({ Action: 'organizations:ListDelegatedAdministrators' });
    const selfStatements = Object.values(base.template.findResources('AWS::IAM::ManagedPolicy')).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    expect(selfStatements.map((s: any) => s.Sid)).not.toContain('ActAsDelegatedAdministrator');
  });

  test.each([[false], [true]])('cdk-nag packs and schema validation as errors pass on the management stack (delegated admin: %s)', (delegatedAdmin) => {
    const { app, stack } = organization({ delegatedAdmin }, { '@aws-cdk/core:validateAgainstDefaultRules': true });
    expect(findings(stack)).toEqual([]);
    Validations.of(app).addPlugins(...PACKS.map(Pack => new Pack()));
    expect(() => app.synth()).not.toThrow();
  });
});

describe('the API key under an IAM policy engine: only the registrar\'s role can read it', () => {
  // A key in a secret of this account, encrypted with a customer managed key: the hardest case (two policies).
  const app = new App();
  const stack = new Stack(app, 'Org', { env: { account: MANAGEMENT, region: 'us-east-1' } });
  const encryptionKey = new kms.Key(stack, 'Cmk');
  const secret = new secretsmanager.Secret(stack, 'ApiKey', { encryptionKey });
  new CloudcraftOrganizationIntegration(stack, 'Cloudcraft', { apiKey: CloudcraftApiKey.fromSecret(secret), organizationalUnitIds: ['r-ab12'] });
  const t = Template.fromStack(stack).toJSON();
  const idOf = (type: string, prefix = '') => Object.keys(t.Resources).find(k => t.Resources[k].Type === type && k.startsWith(prefix))!;
  const secretArn = `arn:aws:secretsmanager:us-east-1:${MANAGEMENT}:secret:ApiKey-AbCdEf`;
  const keyArn = `arn:aws:kms:us-east-1:${MANAGEMENT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
  const registrarRole = `arn:aws:iam::${MANAGEMENT}:role/Org-CloudcraftRegistrarRole-AbC`;
  const refs = {
    [`${idOf('AWS::IAM::Role', 'CloudcraftRegistrarRole')}.Arn`]: registrarRole,
    'AWS::Partition': 'aws',
    'AWS::Region': 'us-east-1',
    'AWS::AccountId': MANAGEMENT,
    'AWS::URLSuffix': 'amazonaws.com',
    [idOf('AWS::SecretsManager::Secret')]: secretArn,
    [`${idOf('AWS::KMS::Key')}.Arn`]: keyArn,
    [`${idOf('AWS::DynamoDB::Table')}.Arn`]: `arn:aws:dynamodb:us-east-1:${MANAGEMENT}:table/ledger`,
    [`${idOf('AWS::Logs::LogGroup')}.Arn`]: `arn:aws:logs:us-east-1:${MANAGEMENT}:log-group:registrar:*`,
  };
  const registrarPolicies = Object.entries(t.Resources)
    .filter(([, r]: any) => r.Type === 'AWS::IAM::ManagedPolicy' && JSON.stringify(r.Properties.Roles ?? []).includes('CloudcraftRegistrarRole') && !JSON.stringify(r.Properties).includes('lambda:InvokeFunction'))
    .map(([id, r]: any) => ({ name: id, policy: resolveCfn(r.Properties.PolicyDocument, refs) }));
  const keyPolicy = resolveCfn(t.Resources[idOf('AWS::KMS::Key')].Properties.KeyPolicy, refs);
  const everything = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };

  async function decide(principal: string, identity: Array<{ name: string; policy: any }>, action: string, resource: string, resourcePolicy: any,
    extra: Record<string, string> = {}) {
    const context = { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5', 'aws:PrincipalAccount': principal.split(':')[4], 'aws:PrincipalArn': principal, ...extra };
    return simulate({ principal, action, resource, accountId: MANAGEMENT, context }, { identity, resource: resourcePolicy });
  }
  const viaSecretsManager = { 'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com', 'kms:CallerAccount': MANAGEMENT };

  test('no resource policy names another account: the secret has none, and the key policy only this account', () => {
    expect(Object.values(t.Resources).map((r: any) => r.Type)).not.toContain('AWS::SecretsManager::ResourcePolicy');
    const principals = JSON.stringify(keyPolicy.Statement.map((s: any) => s.Principal));
    expect(principals.match(/\d{12}/g)!.every((account: string) => account === MANAGEMENT)).toBe(true);
  });

  test('control: the engine does let another account in when a resource policy names the Organization', async () => {
    const orgPolicy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 'secretsmanager:GetSecretValue', Resource: '*', Condition: { StringEquals: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' } } }] };
    expect(await decide(`arn:aws:iam::${MEMBER}:role/anything`, [{ name: 'admin', policy: everything }], 'secretsmanager:GetSecretValue', secretArn, orgPolicy)).toBe('Allowed');
  });

  test('the registrar\'s role can read the key and decrypt it', async () => {
    expect(registrarPolicies.length).toBeGreaterThan(0);
    expect(await decide(registrarRole, registrarPolicies, 'secretsmanager:GetSecretValue', secretArn, undefined)).toBe('Allowed');
    expect(await decide(registrarRole, registrarPolicies, 'kms:Decrypt', keyArn, keyPolicy, viaSecretsManager)).toBe('Allowed');
  });

  test.each([
    ['a role of the registrar\'s own name pattern', `arn:aws:iam::${MEMBER}:role/Org-CloudcraftRegistrarRole-AbC`],
    ['the old design\'s handler role name', `arn:aws:iam::${MEMBER}:role/cloudcraft-registration-handler`],
    ['an administrator', `arn:aws:iam::${MEMBER}:role/OrganizationAccountAccessRole`],
    ['the member account root', `arn:aws:iam::${MEMBER}:root`],
  ])('%s in another account of the Organization, with every right there, cannot read or decrypt it', async (_who, principal) => {
    const all = [{ name: 'admin', policy: everything }];
    expect(await decide(principal, all, 'secretsmanager:GetSecretValue', secretArn, undefined)).not.toBe('Allowed');
    expect(await decide(principal, all, 'kms:Decrypt', keyArn, keyPolicy, { ...viaSecretsManager, 'kms:CallerAccount': MEMBER })).not.toBe('Allowed');
  });
});

describe('who can invoke the registrar, under an IAM policy engine: only this stack\'s two EventBridge rules', () => {
  // The function's resource policy as Lambda builds it from the template's AWS::Lambda::Permission resources.
  const { template } = organization();
  const t = template.toJSON();
  const functionArn = `arn:aws:lambda:us-east-1:${MANAGEMENT}:function:Org-Registrar`;
  const ruleArn = (id: string) => `arn:aws:events:us-east-1:${MANAGEMENT}:rule/${id}`;
  const permissions = Object.values<any>(t.Resources).filter(r => r.Type === 'AWS::Lambda::Permission');
  const rules = permissions.map(p => p.Properties.SourceArn['Fn::GetAtt'][0] as string);
  const resourcePolicy = {
    Version: '2012-10-17',
    Statement: permissions.map((p, i) => ({
      Sid: `rule-${i}`,
      Effect: 'Allow',
      Principal: { Service: p.Properties.Principal },
      Action: p.Properties.Action,
      Resource: functionArn,
      Condition: { ArnLike: { 'AWS:SourceArn': ruleArn(rules[i]) } },
    })),
  };

  const decide = (principal: string, context: Record<string, string>, identity: Array<{ name: string; policy: unknown }> = []) =>
    simulate({ principal, action: 'lambda:InvokeFunction', resource: functionArn, accountId: MANAGEMENT, context }, { identity, resource: resourcePolicy });

  test('the two permissions are for EventBridge, each bound to one of this stack\'s rules', () => {
    expect(permissions.map(p => [p.Properties.Principal, p.Properties.Action])).toEqual([['events.amazonaws.com', 'lambda:InvokeFunction'], ['events.amazonaws.com', 'lambda:InvokeFunction']]);
    expect(rules.map(id => t.Resources[id].Type)).toEqual(['AWS::Events::Rule', 'AWS::Events::Rule']);
  });

  test('control: EventBridge, for one of those rules, may invoke it', async () => {
    for (const rule of rules) expect(await decide('events.amazonaws.com', { 'aws:SourceArn': ruleArn(rule), 'aws:SourceAccount': MANAGEMENT })).toBe('Allowed');
  });

  test('EventBridge for any other rule (of this account or another) may not', async () => {
    expect(await decide('events.amazonaws.com', { 'aws:SourceArn': ruleArn('someone-elses-rule'), 'aws:SourceAccount': MANAGEMENT })).not.toBe('Allowed');
    expect(await decide('events.amazonaws.com', { 'aws:SourceArn': `arn:aws:events:us-east-1:444455556666:rule/${rules[0]}`, 'aws:SourceAccount': '444455556666' })).not.toBe('Allowed');
  });

  test('a principal of another account, allowed everything in its own, may not; one of this account needs an identity policy', async () => {
    const everything = [{ name: 'admin', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] } }];
    expect(await decide('arn:aws:iam::444455556666:role/admin', {}, everything)).not.toBe('Allowed');
    expect(await decide(`arn:aws:iam::${MANAGEMENT}:role/nobody`, {})).not.toBe('Allowed');
  });
});

describe('validation', () => {
  test.each([
    [{ organizationalUnitIds: [] }, /organizationalUnitIds \[\] is empty/],
    [{ organizationalUnitIds: ['engineering'] }, /organizationalUnitIds "engineering" is not an OU or root ID/],
    [{ maxConcurrentPercentage: 0 }, /maxConcurrentPercentage 0 is not a whole percentage from 1 to 100/],
    [{ failureTolerancePercentage: 101 }, /failureTolerancePercentage 101 is not a whole percentage/],
    [{ accountName: CloudcraftAccountName.fromPattern('prod') }, /has none of \{alias\}, \{name\} and \{accountId\}/],
    [{ accountName: CloudcraftAccountName.fromAlias() }, /uses \{alias\}, which the registrar cannot read/],
    [{ accountName: CloudcraftAccountName.of('prod') }, /accountName "prod" is one fixed name, which every account of the Organization would get/],
    [{ roleName: PhysicalName.GENERATE_IF_NEEDED }, /roleName "\(a generated or deploy-time name\)" cannot be used in an Organization/],
    [{ homeRegion: 'europe' }, /homeRegion "europe" is not an AWS region/],
    [{ verificationRegion: 'us-east' }, /verificationRegion "us-east" is not an AWS region/],
    [{ readAccessTeams: ['team/abc'] }, /readAccessTeams "team\/abc" is not a Cloudcraft team ID/],
    [{ stackSetName: '1-bad_name' }, /stackSetName "1-bad_name" is not a StackSet name/],
  ])('%j', (over, message) => {
    expect(() => organization(over as any)).toThrow(message);
  });

  test('an environment-agnostic stack puts the member stacks in the region it is deployed in', () => {
    const stack = new Stack(new App(), 'Agnostic');
    new CloudcraftOrganizationIntegration(stack, 'C', {
      apiKey: CloudcraftApiKey.fromSecret(secretsmanager.Secret.fromSecretNameV2(stack, 'S', 'k')), organizationalUnitIds: ['r-ab12'],
    });
    const template = Template.fromStack(stack);
    const stackSet = onlyOf(template, 'AWS::CloudFormation::StackSet');
    expect(stackSet.Properties.StackInstancesGroup[0].Regions).toEqual([{ Ref: 'AWS::Region' }]);
    expect(stackSet.Properties.Parameters).toContainEqual({ ParameterKey: 'HomeRegion', ParameterValue: { Ref: 'AWS::Region' } });
    // The registrar's configuration names the same region, resolved by CloudFormation.
    const config = onlyOf(template, 'AWS::Lambda::Function').Properties.Environment.Variables.CDK_CLOUDCRAFT_REGISTRAR;
    const deployed = config['Fn::Join'][1].map((part: any) => typeof part === 'string' ? part : part.Ref === 'AWS::Region' ? 'eu-central-1' : 'x').join('');
    expect(JSON.parse(deployed).homeRegion).toBe('eu-central-1');
  });

  test('a delegated administrator with onlyAccounts needs a stack account to leave itself out', () => {
    expect(() => organization({ delegatedAdmin: true, accountFilter: CloudcraftAccountFilter.onlyAccounts('444455556666') }, {}, null))
      .toThrow(/accountFilter "onlyAccounts\(...\)" cannot leave out this delegated administrator account/);
  });
});

test('the organization example synthesizes', () => {
  const stack = new CloudcraftOrganizationExampleStack(new App(), 'OrgExample', { env: { region: 'eu-west-1' }, organizationalUnitIds: ['r-ab12'] });
  expect(Template.fromStack(stack).findResources('AWS::CloudFormation::StackSet')).not.toEqual({});
});

test('team access by OU reaches the registrar\'s configuration; fields an OU leaves out fall back to the setting for all', () => {
  const { template } = organization({ readAccessTeams: ['all'], teamAccessByOu: { 'ou-ab12-cdef3456': { writeAccessTeams: ['admins'] } } });
  const fn = onlyOf(template, 'AWS::Lambda::Function').Properties;
  const text = JSON.stringify(fn.Environment.Variables[CONFIG_VARIABLE]);
  expect(text).toContain('\\"byOu\\":{\\"ou-ab12-cdef3456\\":{\\"write\\":[\\"admins\\"]}}');
  expect(text).toContain('\\"read\\":[\\"all\\"]');
});

test('the registrar\'s custom resources wait up to an hour: an event may queue behind a 15-minute run (reserved concurrency 1)', () => {
  for (const type of ['Custom::CloudcraftOrganizationRegistrar', 'Custom::CloudcraftIamParameters']) {
    expect(onlyOf(base.template, type).Properties.ServiceTimeout).toBe('3600');
  }
});
