/**
 * CloudcraftDiagrams as synthesized: its resources and settings, the checks at synth, what its function may do (by
 * the IAM policy engine, @cloud-copilot/iam-simulate, on the policies as synthesized) and cdk-nag's packs.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks, ServerlessChecks } from 'cdk-nag';
import { resolveDeep, simulate } from './helpers';
import {
  CloudcraftAccountName, CloudcraftApiKey, CloudcraftBlueprintEdited, CloudcraftDiagrams, CloudcraftDiagramSource, CloudcraftImageFormat,
  CloudcraftIntegration,
  CloudcraftOrganizationIntegration, CloudcraftProjection, CloudcraftTheme,
} from '../lib';
import { DIAGRAM_CHANGED, DIAGRAMS_ENVIRONMENT_VARIABLE } from '../lib/diagrams/worker/contract';
import { parseEnvironment } from '../lib/diagrams/worker/index';

const ACCOUNT = '111122223333';
const REGION = 'eu-west-1';
const EXTERNAL_ID = '0b3c2c4e-1111-4222-8333-944455556666';

function single(props: Partial<ConstructorParameters<typeof CloudcraftDiagrams>[2]> = {}) {
  const app = new App();
  const stack = new Stack(app, 'Single', { env: { account: ACCOUNT, region: REGION } });
  const apiKey = CloudcraftApiKey.fromSecret(secretsmanager.Secret.fromSecretNameV2(stack, 'Key', 'cloudcraft/api-key'));
  const integration = new CloudcraftIntegration(stack, 'Cloudcraft', { apiKey, accountName: CloudcraftAccountName.of('production'), externalId: EXTERNAL_ID });
  const diagrams = new CloudcraftDiagrams(stack, 'Diagrams', { source: CloudcraftDiagramSource.fromIntegration(integration), regions: [REGION, 'us-east-1'], ...props });
  return { app, stack, diagrams, template: Template.fromStack(stack) };
}

function organization() {
  const app = new App();
  const stack = new Stack(app, 'Org', { env: { account: ACCOUNT, region: REGION } });
  const apiKey = CloudcraftApiKey.fromSecret(secretsmanager.Secret.fromSecretNameV2(stack, 'Key', 'cloudcraft/api-key'));
  const org = new CloudcraftOrganizationIntegration(stack, 'Cloudcraft', { apiKey, organizationalUnitIds: ['r-ab12'], externalId: EXTERNAL_ID });
  const diagrams = new CloudcraftDiagrams(stack, 'Diagrams', { source: CloudcraftDiagramSource.fromOrganization(org), regions: [REGION] });
  return { app, stack, diagrams, template: Template.fromStack(stack) };
}

function environmentOf(template: Template): any {
  const fns = template.findResources('AWS::Lambda::Function', { Properties: { Environment: { Variables: { [DIAGRAMS_ENVIRONMENT_VARIABLE]: {} } } } });
  const fn: any = Object.values(fns)[0];
  return fn.Properties.Environment.Variables[DIAGRAMS_ENVIRONMENT_VARIABLE];
}

describe('resources', () => {
  test('a private, versioned, encrypted, TLS-only bucket whose dated copies and replaced versions expire', () => {
    const { template } = single({ retention: Duration.days(30) });
    template.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LifecycleConfiguration: {
        Rules: [
          { Id: 'DatedCopies', Status: 'Enabled', ExpirationInDays: 30, TagFilters: [{ Key: 'cdk-cloudcraft-copy', Value: 'dated' }] },
          { Id: 'ReplacedVersions', Status: 'Enabled', NoncurrentVersionExpiration: { NoncurrentDays: 30 } },
        ],
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: [{ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }] },
    });
  });

  test('an alarm on runs stopped and account-regions failed, of this installation', () => {
    const { template } = single();
    const alarms = template.findResources('AWS::CloudWatch::Alarm');
    const alarm: any = Object.values(alarms).find((a: any) => JSON.stringify(a).includes('DiagramRunStopped'));
    expect(alarm.Properties).toMatchObject({ Threshold: 1, EvaluationPeriods: 2, TreatMissingData: 'notBreaching' });
    const metrics = alarm.Properties.Metrics.filter((m: any) => m.MetricStat).map((m: any) => m.MetricStat.Metric);
    expect(metrics.map((m: any) => m.MetricName).sort()).toEqual(['DiagramRunStopped', 'DiagramsFailed']);
    for (const m of metrics) expect(m.Dimensions).toEqual([{ Name: 'StateTable', Value: { Ref: expect.stringMatching(/^DiagramsState/) } }]);
  });

  test('the user\'s schedule opens a round, a tick every 15 minutes continues it; the function runs Node.js 24', () => {
    const { template } = single({ schedule: events.Schedule.cron({ hour: '6', minute: '0' }) });
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'cron(0 6 * * ? *)', Targets: [{ Input: '{"kind":"schedule"}' }] });
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(15 minutes)', Targets: [{ Input: '{"kind":"tick"}' }] });
    template.hasResourceProperties('AWS::Lambda::Function', { Runtime: 'nodejs24.x', Timeout: 900, Environment: { Variables: { [DIAGRAMS_ENVIRONMENT_VARIABLE]: {} } } });
  });

  test('the function is told the account and its registration, the regions, formats and rendering options', () => {
    const { stack, template } = single({
      imageFormats: [CloudcraftImageFormat.PNG],
      rendering: { projection: CloudcraftProjection.TWO_D, theme: CloudcraftTheme.DARK, exclude: ['ebs', 'networkacl'], width: 1920, height: 1080, label: false },
    });
    const env = JSON.parse(JSON.stringify(resolveDeep(stack.resolve(environmentOf(template)), {})));
    const parsed = JSON.parse(env);
    expect(parsed).toMatchObject({
      apiUrl: 'https://api.cloudcraft.co',
      regions: [REGION, 'us-east-1'],
      formats: ['png'],
      prefix: 'cloudcraft-diagrams/',
      reservePerMinute: 5,
      accounts: { registrations: [{ accountId: ACCOUNT, registrationId: expect.stringMatching(/^<CloudcraftRegistration.*\.RegistrationId>$/) }] },
    });
    expect(new URLSearchParams(parsed.query).toString()).toBe('width=1920&height=1080&projection=2d&theme=dark&exclude=ebs%2Cnetworkacl&label=false');
    expect(parsed.pacingTable).toBe(parsed.stateTable);
  });

  test('blueprints: off unless asked; when asked, what is done with an edited one (default: left alone)', () => {
    const envOf = (props: Partial<ConstructorParameters<typeof CloudcraftDiagrams>[2]>) => {
      const { stack, template } = single(props);
      return JSON.parse(JSON.parse(JSON.stringify(resolveDeep(stack.resolve(environmentOf(template)), {}))));
    };
    expect(envOf({}).blueprints).toBeUndefined();
    expect(envOf({ blueprints: {} }).blueprints).toBe('leave');
    expect(envOf({ blueprints: { whenEdited: CloudcraftBlueprintEdited.FORK } }).blueprints).toBe('fork');
    expect(envOf({ blueprints: { whenEdited: CloudcraftBlueprintEdited.OVERWRITE } }).blueprints).toBe('overwrite');
    // The function accepts what the construct writes, and refuses a value it does not know.
    const env = envOf({ blueprints: {} });
    expect(parseEnvironment(JSON.stringify(env)).blueprints).toBe('leave');
    expect(() => parseEnvironment(JSON.stringify({ ...env, blueprints: 'sometimes' }))).toThrow(/blueprints is not one of leave, overwrite, fork/);
  });

  test('with the Organization: the accounts and the key\'s one pacing record come from the registrar\'s ledger', () => {
    const { stack, template } = organization();
    const parsed = JSON.parse(resolveDeep(stack.resolve(environmentOf(template)), {}));
    expect(parsed.accounts).toEqual({ ledgerTable: expect.stringMatching(/^<CloudcraftLedger/) });
    expect(parsed.pacingTable).toBe(parsed.accounts.ledgerTable);
    expect(parsed.stateTable).not.toBe(parsed.pacingTable);
  });
});

describe('checks at synth', () => {
  test.each([
    [{ regions: [] }, /regions \[\] is not a list of regions known at synth/],
    [{ regions: ['eu-west-1', 'eu-west-1'] }, /regions .* names a region twice/],
    [{ regions: ['mars-north-1x'] }, /regions "mars-north-1x" is not an AWS region/],
    [{ regions: ['cn-north-1'] }, /regions "cn-north-1" is not an AWS region Cloudcraft can use/],
    [{ prefix: '/diagrams' }, /prefix "\/diagrams" is not a key prefix .* ends with "\/"/],
    [{ requestsLeftForRegistration: 0 }, /requestsLeftForRegistration 0 is not a whole number from 1 to 19/],
    [{ requestsLeftForRegistration: 20 }, /requestsLeftForRegistration 20/],
    [{ imageFormats: [CloudcraftImageFormat.PNG, CloudcraftImageFormat.PNG] }, /imageFormats .* names a format twice/],
    [{ rendering: { width: -1 } }, /rendering.width -1 is not a whole number of pixels/],
    [{ rendering: { exclude: ['ebs volumes'] } }, /rendering.exclude "ebs volumes" is not a component type/],
    [{ retention: Duration.hours(12) }, /retention .* is not a whole number of days/],
  ] as Array<[any, RegExp]>)('%j is refused with the prop, the value and the fix', (props, message) => {
    expect(() => single(props)).toThrow(message);
  });

  test('an environment over Lambda\'s 4 KB is refused at synth', () => {
    expect(() => single({ rendering: { filter: 'tag:x='.padEnd(5_000, 'y') } })).toThrow(/over Lambda's 4096-byte limit/);
  });
});

describe('least privilege, by the IAM policy engine', () => {
  function policiesOf(built: ReturnType<typeof single>) {
    const t = built.template.toJSON();
    const idOf = (type: string, prefix: string) => Object.keys(t.Resources).find(k => t.Resources[k].Type === type && k.startsWith(prefix))!;
    const refs: Record<string, string> = {
      'AWS::Partition': 'aws',
      'AWS::Region': REGION,
      'AWS::AccountId': ACCOUNT,
      'AWS::URLSuffix': 'amazonaws.com',
      [idOf('AWS::S3::Bucket', 'DiagramsBucket')]: 'diagrams-bucket',
      [`${idOf('AWS::S3::Bucket', 'DiagramsBucket')}.Arn`]: 'arn:aws:s3:::diagrams-bucket',
      [`${idOf('AWS::DynamoDB::Table', 'DiagramsState')}.Arn`]: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/state`,
      [`${idOf('AWS::Logs::LogGroup', 'DiagramsLogs')}.Arn`]: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:diagrams:*`,
    };
    const ledger = idOf('AWS::DynamoDB::Table', 'CloudcraftLedger');
    if (ledger) refs[`${ledger}.Arn`] = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/ledger`;
    return Object.entries(t.Resources)
      .filter(([, r]: any) => r.Type === 'AWS::IAM::ManagedPolicy' && JSON.stringify(r.Properties.Roles ?? []).includes('DiagramsRole'))
      .map(([id, r]: any) => ({ name: id, policy: resolveDeep(r.Properties.PolicyDocument, refs) }));
  }
  const principal = `arn:aws:sts::${ACCOUNT}:assumed-role/Diagrams-Role/fn`;
  const decide = (identity: any, action: string, resource: string, context: Record<string, string | string[]> = {}) =>
    simulate({ principal, action, resource, accountId: ACCOUNT, context }, { identity });

  test('it writes and reads objects under its prefix only', async () => {
    const identity = policiesOf(single());
    expect(identity.length).toBeGreaterThan(0);
    expect(await decide(identity, 's3:PutObject', `arn:aws:s3:::diagrams-bucket/cloudcraft-diagrams/${ACCOUNT}/${REGION}/latest.png`)).toBe('Allowed');
    expect(await decide(identity, 's3:PutObjectTagging', `arn:aws:s3:::diagrams-bucket/cloudcraft-diagrams/${ACCOUNT}/${REGION}/2026-12-02T060000Z.png`)).toBe('Allowed');
    expect(await decide(identity, 's3:GetObject', `arn:aws:s3:::diagrams-bucket/cloudcraft-diagrams/${ACCOUNT}/${REGION}/latest.json`)).toBe('Allowed');
    expect(await decide(identity, 's3:PutObject', 'arn:aws:s3:::diagrams-bucket/index.html')).toBe('ImplicitlyDenied');
    expect(await decide(identity, 's3:PutObject', 'arn:aws:s3:::another-bucket/cloudcraft-diagrams/x.png')).toBe('ImplicitlyDenied');
    expect(await decide(identity, 's3:DeleteObject', `arn:aws:s3:::diagrams-bucket/cloudcraft-diagrams/${ACCOUNT}/${REGION}/latest.png`)).toBe('ImplicitlyDenied');
    expect(await decide(identity, 's3:PutBucketPolicy', 'arn:aws:s3:::diagrams-bucket')).toBe('ImplicitlyDenied');
  });

  test('it puts its own event on the default bus, and no other', async () => {
    const identity = policiesOf(single());
    const bus = `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/default`;
    const own = { 'events:source': ['cdk-cloudcraft'], 'events:detail-type': [DIAGRAM_CHANGED] };
    expect(await decide(identity, 'events:PutEvents', bus, own)).toBe('Allowed');
    expect(await decide(identity, 'events:PutEvents', bus, { ...own, 'events:source': ['aws.ec2'] })).toBe('ImplicitlyDenied');
    expect(await decide(identity, 'events:PutEvents', bus, { ...own, 'events:detail-type': ['AWS API Call via CloudTrail'] })).toBe('ImplicitlyDenied');
    // One call with its own entry and another's: refused as a whole.
    expect(await decide(identity, 'events:PutEvents', bus, { ...own, 'events:source': ['cdk-cloudcraft', 'com.example.payments'] })).toBe('ImplicitlyDenied');
    // Without the keys (ForAllValues alone would allow it): refused.
    expect(await decide(identity, 'events:PutEvents', bus, {})).toBe('ImplicitlyDenied');
    expect(await decide(identity, 'events:PutEvents', `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/other`, own)).toBe('ImplicitlyDenied');
  });

  test('with the Organization, it reads the ledger and writes only the key\'s pacing record in it', async () => {
    const identity = policiesOf(organization() as any);
    const ledger = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/ledger`;
    expect(await decide(identity, 'dynamodb:Scan', ledger)).toBe('Allowed');
    expect(await decide(identity, 'dynamodb:PutItem', ledger, { 'dynamodb:LeadingKeys': 'meta#pacer' })).toBe('Allowed');
    expect(await decide(identity, 'dynamodb:PutItem', ledger, { 'dynamodb:LeadingKeys': 'account#444455556666' })).toBe('ImplicitlyDenied');
    expect(await decide(identity, 'dynamodb:PutItem', ledger, { 'dynamodb:LeadingKeys': 'meta#lease' })).toBe('ImplicitlyDenied');
    expect(await decide(identity, 'dynamodb:DeleteItem', ledger, { 'dynamodb:LeadingKeys': 'meta#pacer' })).toBe('ImplicitlyDenied');
    expect(await decide(identity, 'dynamodb:PutItem', `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/state`)).toBe('Allowed');
  });
});

describe('cdk-nag', () => {
  const PACKS = [AwsSolutionsChecks, NIST80053R5Checks, HIPAASecurityChecks, PCIDSS321Checks, ServerlessChecks];
  const findings = (stack: Stack) => PACKS.flatMap(Pack => new Pack().validateScope(stack).violations
    .flatMap(v => v.violatingResources.map(r => `${v.ruleName} @ ${r.constructPath}`))).filter(f => f.includes('/Diagrams/')).sort();

  test.each([['single account', single], ['Organization', organization]] as const)('%s: no unacknowledged finding on the diagrams\' resources', (_name, build) => {
    expect(findings(build().stack)).toEqual([]);
  });
});
