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
  CloudcraftAccess, CloudcraftAccountFilter, CloudcraftAccountName, CloudcraftApiKey, CloudcraftIntegration, CloudcraftOrganizationIntegration,
  CloudcraftOrganizationIntegrationProps,
} from '../lib';
import { addMemberStack } from '../lib/organization/member-template';
import { configOf, parseDeployment, parseEnvironment, roleArnOf } from '../lib/organization/registrar/config';
import { ACCOUNTS_NOT_REGISTERED_QUERY, ENVIRONMENT_VARIABLE, MAX_PROPERTIES_BYTES } from '../lib/organization/registrar/contract';

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
  const refsOf = (template: Template) => {
    const [iamParameters] = Object.keys(template.findResources('Custom::CloudcraftIamParameters'));
    const [registrar] = Object.keys(template.findResources('AWS::Lambda::Function'));
    return {
      [`${registrar}.Arn`]: `arn:aws:lambda:us-east-1:${MANAGEMENT}:function:registrar`,
      'AWS::Partition': 'aws',
      'AWS::Region': 'us-east-1',
      'AWS::AccountId': MANAGEMENT,
      'AWS::URLSuffix': 'amazonaws.com',
      'AWS::StackId': `arn:aws:cloudformation:us-east-1:${MANAGEMENT}:stack/Org/1`,
      [Object.keys(template.findResources('AWS::DynamoDB::Table'))[0]]: 'ledger-table',
      ...(iamParameters ? { [`${iamParameters}.ExternalId`]: '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0' } : {}),
    };
  };
  /** The registrar's configuration as a deployment gives it: its environment, and its resource's properties. */
  const configurationOf = (template: Template) => {
    const refs = refsOf(template);
    const env = parseEnvironment(resolveCfn(onlyOf(template, 'AWS::Lambda::Function').Properties.Environment.Variables[ENVIRONMENT_VARIABLE], refs));
    const properties = resolveCfn(onlyOf(template, 'Custom::CloudcraftOrganizationRegistrar').Properties, refs);
    return configOf(env, parseDeployment(properties));
  };
  const config = configurationOf(base.template);

  test('one writer without a prerequisite: no reserved concurrency (a lease in its ledger); Node.js 24, inline code, 15 minutes', () => {
    expect(fn.ReservedConcurrentExecutions).toBeUndefined();
    expect(fn).toMatchObject({ Runtime: 'nodejs24.x', Timeout: 900 });
    // Recursive loop detection allowed (the registrar continues itself, under its own limit) where the setting exists.
    const [condition] = Object.keys(base.template.toJSON().Conditions);
    expect(fn.RecursiveLoop).toEqual({ 'Fn::If': [condition, 'Allow', { Ref: 'AWS::NoValue' }] });
    const supported = (partition: string, region: string) => {
      const evaluate = (c: any): boolean => c['Fn::And'] ? c['Fn::And'].every(evaluate) : c['Fn::Or'] ? c['Fn::Or'].some(evaluate)
        : c['Fn::Not'] ? !evaluate(c['Fn::Not'][0])
          : resolveCfn(c['Fn::Equals'][0], { 'AWS::Partition': partition, 'AWS::Region': region }) === c['Fn::Equals'][1];
      return evaluate(base.template.toJSON().Conditions[condition]);
    };
    expect([supported('aws', 'eu-west-1'), supported('aws', 'mx-central-1'), supported('aws', 'ap-southeast-6'), supported('aws-us-gov', 'us-gov-west-1')])
      .toEqual([true, false, false, false]);
    expect(typeof fn.Code.ZipFile).toBe('string');
  });

  test('its environment: where the key goes, by reference, its ledger and its stack (what an event cannot change), well under 4 KB', () => {
    expect(Object.keys(fn.Environment.Variables)).toEqual([ENVIRONMENT_VARIABLE]);
    const env = parseEnvironment(resolveCfn(fn.Environment.Variables[ENVIRONMENT_VARIABLE], refsOf(base.template)));
    expect(env).toEqual({
      apiUrl: 'https://api.cloudcraft.co',
      apiKey: { source: 'secretsmanager', id: expect.stringContaining('cloudcraft/api-key') },
      ledgerTable: 'ledger-table',
      stackSetName: 'cloudcraft-integration',
      stackId: `arn:aws:cloudformation:us-east-1:${MANAGEMENT}:stack/Org/1`,
      metricsNamespace: 'cdk-cloudcraft',
    });
  });

  test('its settings come with each deployment: the StackSet, the targets, the role, names and team access', () => {
    expect(config).toMatchObject({
      stackSetName: 'cloudcraft-integration',
      callAs: 'SELF',
      homeRegion: 'us-east-1',
      targets: ['ou-ab12-cdef3456'],
      externalId: '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0',
      role: { partition: 'aws', path: '/', name: 'cloudcraft' },
      naming: { pattern: '{name}', names: {} },
      access: {},
      graceMs: 86_400_000,
    });
  });

  test('this account\'s own role is in the settings, as the ARN of the role the stack creates (or absent)', () => {
    const [role] = Object.values(base.template.findResources('AWS::IAM::Role')).filter((r: any) => r.Properties.RoleName === 'cloudcraft') as any[];
    // The registrar builds the ARN with the members' role name and path: the same as the role this stack creates.
    expect(config.thisAccount).toEqual({ accountId: MANAGEMENT });
    expect(roleArnOf(config, MANAGEMENT)).toBe(`arn:aws:iam::${MANAGEMENT}:role${role.Properties.Path ?? '/'}${role.Properties.RoleName}`);
    const withPath = organization({ roleName: 'cloudcraft-reader', path: '/cloudcraft/' });
    const pathRole = Object.values(withPath.template.findResources('AWS::IAM::Role')).find((r: any) => r.Properties.RoleName === 'cloudcraft-reader') as any;
    const pathConfig = configurationOf(withPath.template);
    expect(roleArnOf(pathConfig, pathConfig.thisAccount!.accountId)).toBe(`arn:aws:iam::${MANAGEMENT}:role${pathRole.Properties.Path}${pathRole.Properties.RoleName}`);
    expect(configurationOf(organization({ includeThisAccount: false }).template).thisAccount).toBeUndefined();
  });

  test('a deployment that changes the settings, the OUs or the environment updates the registrar\'s resource (which reconciles)', () => {
    const props = (o: Partial<CloudcraftOrganizationIntegrationProps> = {}) =>
      onlyOf(organization(o).template, 'Custom::CloudcraftOrganizationRegistrar').Properties;
    expect(props()).toEqual(props()); // deterministic: the same app, no Update
    expect(props({ deregistrationGracePeriod: Duration.days(3) }).Settings).not.toEqual(props().Settings);
    expect(props({ readAccessTeams: ['team-a'] }).Settings).not.toEqual(props().Settings);
    expect(props({ organizationalUnitIds: ['ou-ab12-00000002'] }).Targets).toEqual(['ou-ab12-00000002']);
    expect(props({ apiUrl: 'https://gov.cloudcraft.example' }).Environment).not.toEqual(props().Environment);
    // The schedule is not the registrar's configuration: no Update.
    expect(props({ schedule: events.Schedule.rate(Duration.minutes(30)) })).toEqual(props());
  });

  test('an Organization of 2,000 names by account ID and 200 OUs of team access deploys; one too large for a deployment is refused at synth, the limit named', () => {
    const names = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [String(300000000000 + i), `Workload ${i} (production)`]));
    const ous = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`ou-ab12-${String(i).padStart(8, '0')}`, { readAccessTeams: [`team-${i}-readers`], writeAccessTeams: [`team-${i}-admins`] }]));
    const large = organization({ accountName: CloudcraftAccountName.fromPattern('{name}', { names: names(2_000) }), teamAccessByOu: ous });
    const properties = onlyOf(large.template, 'Custom::CloudcraftOrganizationRegistrar').Properties;
    expect(Buffer.byteLength(JSON.stringify(properties))).toBeGreaterThan(100_000);
    expect(Buffer.byteLength(JSON.stringify(properties))).toBeLessThanOrEqual(MAX_PROPERTIES_BYTES);
    // The environment stays the same size whatever the Organization: the 4 KB of Lambda's variables are never at stake.
    const env = onlyOf(large.template, 'AWS::Lambda::Function').Properties.Environment.Variables;
    expect(JSON.stringify(env)).toEqual(JSON.stringify(fn.Environment.Variables));
    expect(configurationOf(large.template).naming.names['300000001999']).toBe('Workload 1999 (production)');
    expect(() => organization({ accountName: CloudcraftAccountName.fromPattern('{name}', { names: names(4_000) }), teamAccessByOu: ous }))
      .toThrow(/accountName "4000 names by account ID, and 200 OUs in teamAccessByOu" make the registrar's settings \d+ bytes, over the 125000 bytes a deployment can send it .*Name accounts by a pattern/);
  });

  test('the ledger: on demand, encrypted, point-in-time recovery, retained', () => {
    const table = onlyOf(base.template, 'AWS::DynamoDB::Table');
    expect(table.Properties).toMatchObject({ BillingMode: 'PAY_PER_REQUEST', SSESpecification: { SSEEnabled: true }, PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } });
    expect(table.DeletionPolicy).toBe('Retain');
    expect(onlyOf(organization({ ledgerRemovalPolicy: RemovalPolicy.DESTROY }).template, 'AWS::DynamoDB::Table').DeletionPolicy).toBe('Delete');
  });

  test('triggers: this StackSet\'s instance events, a schedule (hourly by default), and each deployment; the rules come after the registrar\'s resource', () => {
    const found = base.template.findResources('AWS::Events::Rule');
    const rules = Object.values(found).map((r: any) => r.Properties);
    const byEvent = rules.find(r => r.EventPattern)!;
    expect(byEvent.EventPattern).toMatchObject({ 'source': ['aws.cloudformation'], 'detail-type': ['CloudFormation StackSet StackInstance Status Change'] });
    const [stackSetId] = Object.keys(base.template.findResources('AWS::CloudFormation::StackSet'));
    const refs = { 'AWS::Partition': 'aws', [`${stackSetId}.StackSetId`]: 'cloudcraft-integration:0123-abcd' };
    expect(resolveCfn(byEvent.EventPattern.detail, refs))
      .toEqual({ 'stack-set-arn': [`arn:aws:cloudformation:us-east-1:${MANAGEMENT}:stackset/cloudcraft-integration:0123-abcd`] });
    const delegated = Object.values(organization({ delegatedAdmin: true }).template.findResources('AWS::Events::Rule')).map((r: any) => r.Properties).find(r => r.EventPattern)!;
    expect(resolveCfn(delegated.EventPattern.detail, refs))
      .toEqual({ 'stack-set-arn': [{ wildcard: 'arn:aws:cloudformation:us-east-1:*:stackset/cloudcraft-integration:0123-abcd' }] });
    const [reconcile] = Object.keys(base.template.findResources('Custom::CloudcraftOrganizationRegistrar'));
    for (const rule of Object.values<any>(found)) expect(rule.DependsOn).toContain(reconcile);
    expect(rules.find(r => r.ScheduleExpression)!.ScheduleExpression).toBe('rate(1 hour)');
    base.template.resourceCountIs('Custom::CloudcraftOrganizationRegistrar', 1);
    const custom = organization({ schedule: events.Schedule.rate(Duration.minutes(30)) }).template;
    expect(Object.values(custom.findResources('AWS::Events::Rule')).map((r: any) => r.Properties.ScheduleExpression)).toContain('rate(30 minutes)');
  });

  test('an alarm when accounts stay unregistered or their stack instance failed, or the registrar stops reporting (a lost ledger included)', () => {
    const alarm = onlyOf(base.template, 'AWS::CloudWatch::Alarm').Properties;
    expect(alarm).toMatchObject({ Threshold: 1, EvaluationPeriods: 3, TreatMissingData: 'breaching' });
    // No FILL: a run that read nothing (or a ledger without its deployment) publishes neither figure, and missing data
    // stays missing, which counts as breaching.
    const expression = alarm.Metrics.find((m: any) => m.Expression);
    expect(expression.Expression).toBe('unregistered + failedInstances');
    const stats = alarm.Metrics.filter((m: any) => m.MetricStat);
    expect(stats.map((m: any) => [m.Id, m.MetricStat.Metric.MetricName, m.MetricStat.Period]).sort()).toEqual([
      ['failedInstances', 'StackInstancesFailed', 3600], ['unregistered', 'AccountsUnregistered', 3600],
    ]);
  });

  test('a dashboard (opt-out): the figures over time, the alarm, and a table of the accounts not registered from the log group; the same as a saved query', () => {
    const dashboard = onlyOf(base.template, 'AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const name of ['AccountsUnregistered', 'StackInstancesFailed', 'CloudcraftCalls', 'CloudcraftRateLimited']) expect(body).toContain(name);
    expect(body).toContain('\\"type\\":\\"alarm\\"');
    expect(body).toContain('\\"type\\":\\"log\\"');
    const [logGroupId] = Object.keys(base.template.findResources('AWS::Logs::LogGroup'));
    const query = onlyOf(base.template, 'AWS::Logs::QueryDefinition').Properties;
    expect(query).toEqual({ Name: 'cdk-cloudcraft/cloudcraft-integration/accounts-not-registered', QueryString: ACCOUNTS_NOT_REGISTERED_QUERY, LogGroupNames: [{ Ref: logGroupId }] });
    const off = organization({ dashboard: false }).template;
    off.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
    off.resourceCountIs('AWS::Logs::QueryDefinition', 0);
  });

  test.each([
    [events.Schedule.rate(Duration.minutes(15)), 3600, 3],
    [events.Schedule.rate(Duration.hours(6)), 6 * 3600, 3],
    [events.Schedule.rate(Duration.hours(12)), 12 * 3600, 3],
    [events.Schedule.rate(Duration.days(1)), 86_400, 3],
    [events.Schedule.cron({ hour: '3', minute: '0' }), 86_400, 3],
  ])('the alarm\'s period follows the schedule (%s): every period has a run, three periods within CloudWatch\'s 7 days', (schedule, period, evaluationPeriods) => {
    const alarm = onlyOf(organization({ schedule }).template, 'AWS::CloudWatch::Alarm').Properties;
    expect(alarm.EvaluationPeriods).toBe(evaluationPeriods);
    expect(alarm.EvaluationPeriods * period).toBeLessThanOrEqual(7 * 86_400);
    expect(alarm.Metrics.filter((m: any) => m.MetricStat).map((m: any) => m.MetricStat.Period)).toEqual([period, period]);
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

  test('it is granted what it calls: Organizations reads without DescribeOrganization (never called); its ledger with GetItem (the lease)', () => {
    const statements = Object.values(base.template.findResources('AWS::IAM::ManagedPolicy')).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    const actions = statements.flatMap((s: any) => [s.Action].flat());
    expect(actions).not.toContain('organizations:DescribeOrganization');
    expect(actions).toEqual(expect.arrayContaining(['organizations:ListAccountsForParent', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Scan', 'dynamodb:DeleteItem']));
  });

  test.each([[false], [true]])('with the flags `cdk init` writes (partition literals), a concrete env, both integrations pass the packs (delegated admin: %s)', (delegatedAdmin) => {
    // With @aws-cdk/core:enablePartitionLiterals and a concrete region, ARNs made by the stack carry "aws" where they
    // carried a reference: acknowledgements must name the finding in that form.
    const { stack } = organization({ delegatedAdmin, access: CloudcraftAccess.minimal() }, { '@aws-cdk/core:enablePartitionLiterals': true });
    expect(findings(stack)).toEqual([]);
    const single = new Stack(new App({ context: { '@aws-cdk/core:enablePartitionLiterals': true } }), 'Single', { env: { account: MANAGEMENT, region: 'eu-west-1' } });
    new CloudcraftIntegration(single, 'Cloudcraft', {
      apiKey: CloudcraftApiKey.fromSecret(secretsmanager.Secret.fromSecretNameV2(single, 'Key', 'cloudcraft/api-key')),
      accountName: CloudcraftAccountName.of('production'),
      access: CloudcraftAccess.minimal(),
    });
    expect(findings(single)).toEqual([]);
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
    // The registrar's settings name the same region, resolved by CloudFormation.
    expect(onlyOf(template, 'Custom::CloudcraftOrganizationRegistrar').Properties.Settings.homeRegion).toEqual({ Ref: 'AWS::Region' });
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

test('team access by OU reaches the registrar\'s settings; fields an OU leaves out fall back to the setting for all (left out: not managed)', () => {
  const { template } = organization({ readAccessTeams: ['all'], teamAccessByOu: { 'ou-ab12-cdef3456': { writeAccessTeams: ['admins'] } } });
  expect(onlyOf(template, 'Custom::CloudcraftOrganizationRegistrar').Properties.Settings.access).toEqual({ read: ['all'], byOu: { 'ou-ab12-cdef3456': { write: ['admins'] } } });
});

test('the registrar\'s custom resources wait up to an hour: the Delete may need it to remove every registration', () => {
  for (const type of ['Custom::CloudcraftOrganizationRegistrar', 'Custom::CloudcraftIamParameters']) {
    expect(onlyOf(base.template, type).Properties.ServiceTimeout).toBe('3600');
  }
});

test('a registrar environment over Lambda\'s 4 KB is refused at synth, naming the key\'s reference and the fix', () => {
  const stack = new Stack(new App(), 'HugeKeyName');
  const secret = secretsmanager.Secret.fromSecretCompleteArn(stack, 'Key', `arn:aws:secretsmanager:eu-west-1:111122223333:secret:${'k'.repeat(4_100)}-AbCdEf`);
  expect(() => new CloudcraftOrganizationIntegration(stack, 'Cloudcraft', { apiKey: CloudcraftApiKey.fromSecret(secret), organizationalUnitIds: ['r-ab12'] }))
    .toThrow(/Cloudcraft: apiKey "arn:aws:secretsmanager:.*" makes the function's environment \d+ bytes, over Lambda's 4096-byte limit .* Use a shorter secret or parameter name\./);
});

describe('Cloudcraft\'s live minimal policy', () => {
  const settingsOf = (built: ReturnType<typeof organization>) =>
    onlyOf(built.template, 'Custom::CloudcraftOrganizationRegistrar').Properties.Settings;
  const putEventStatements = (built: ReturnType<typeof organization>) => Object.values(built.template.findResources('AWS::IAM::ManagedPolicy'))
    .flatMap((p: any) => p.Properties.PolicyDocument.Statement).filter((s: any) => [s.Action].flat().includes('events:PutEvents'));

  test('members with the minimal policy: the registrar checks it daily and may put only the policy event', async () => {
    const built = organization({ access: CloudcraftAccess.minimal() });
    expect(settingsOf(built).policyCheck).toBe(true);
    const statements = putEventStatements(built);
    expect(statements).toHaveLength(1);
    const policy = { Version: '2012-10-17', Statement: resolveCfn(statements, { 'AWS::Partition': 'aws', 'AWS::Region': 'us-east-1', 'AWS::AccountId': MANAGEMENT }) };
    const bus = `arn:aws:events:us-east-1:${MANAGEMENT}:event-bus/default`;
    const decide = (context: Record<string, string[]>) => simulate({
      principal: `arn:aws:iam::${MANAGEMENT}:role/registrar`, action: 'events:PutEvents', resource: bus, accountId: MANAGEMENT, context,
    }, { identity: [{ name: 'registrar', policy }] });
    expect(await decide({ 'events:source': ['cdk-cloudcraft'], 'events:detail-type': ['Cloudcraft Policy Changed'] })).toBe('Allowed');
    expect(await decide({ 'events:source': ['cdk-cloudcraft'], 'events:detail-type': ['Cloudcraft Diagram Changed'] })).toBe('ImplicitlyDenied');
    expect(await decide({ 'events:source': ['aws.iam'], 'events:detail-type': ['Cloudcraft Policy Changed'] })).toBe('ImplicitlyDenied');
  });

  test('ReadOnlyAccess, or the check turned off: no check, no event permission', () => {
    for (const built of [organization(), organization({ access: CloudcraftAccess.minimal({ checkLivePolicy: false }) })]) {
      expect(settingsOf(built).policyCheck).toBeUndefined();
      expect(putEventStatements(built)).toHaveLength(0);
    }
  });

  test('following the live policy is refused in an Organization, with the fix', () => {
    expect(() => organization({ access: CloudcraftAccess.minimal({ followLivePolicy: true }) }))
      .toThrow(/access.*followLivePolicy.*no function.*CloudcraftAccess\.minimal\(\)/s);
  });
});
