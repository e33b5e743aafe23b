/**
 * The Organization rollout: the management stack (shared key, StackSet) and the member template it deploys.
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks, ServerlessChecks } from 'cdk-nag';
import { resolveCfn } from './helpers';
import { CloudcraftOrganizationExampleStack } from '../examples/cloudcraft-organization-example-stack';
import {
  CloudcraftAccountFilter, CloudcraftAccountNaming, CloudcraftCallAs, CloudcraftOrganizationIntegration, CloudcraftOrganizationIntegrationProps,
} from '../lib';
import { addMemberStack } from '../lib/organization/member-template';

const MANAGEMENT = '111122223333';
const MEMBER = '222233334444';
const ORG = 'o-a1b2c3d4e5';
const PACKS = [AwsSolutionsChecks, NIST80053R5Checks, HIPAASecurityChecks, PCIDSS321Checks, ServerlessChecks];

function organization(over: Partial<CloudcraftOrganizationIntegrationProps> = {}, context: Record<string, unknown> = {}) {
  const app = new App({ context });
  const stack = new Stack(app, 'Org', { env: { account: MANAGEMENT, region: 'us-east-1' } });
  const construct = new CloudcraftOrganizationIntegration(stack, 'Cloudcraft', {
    apiKeySecret: secretsmanager.Secret.fromSecretNameV2(stack, 'Source', 'cloudcraft/api-key'),
    organizationId: ORG,
    organizationalUnitIds: ['ou-ab12-cdef3456'],
    callAs: CloudcraftCallAs.SELF,
    ...over,
  });
  return { app, stack, construct, template: Template.fromStack(stack) };
}

function findings(stack: Stack): string[] {
  return PACKS.flatMap(Pack => new Pack().validateScope(stack).violations.flatMap(v => v.violatingResources.map(r => `${v.ruleName} @ ${r.constructPath}`)));
}

const base = organization();
const member = base.construct.memberTemplate;
const memberText = JSON.stringify(member);

describe('member template', () => {
  test('flat and bootstrap-free: no assets, nested stacks, transforms, macros or BootstrapVersion', () => {
    expect(member.Transform).toBeUndefined();
    expect(member.Rules).toBeUndefined();
    expect(Object.keys(member.Parameters).sort()).toEqual(['CloudcraftAccountId', 'ExternalId', 'HomeRegion', 'SharedSecretArn', 'SharedSecretKmsKeyArn']);
    const types = Object.values(member.Resources).map((r: any) => r.Type);
    expect(types).not.toContain('AWS::CloudFormation::Stack');
    expect(types).not.toContain('AWS::CDK::Metadata');
    expect(memberText).not.toMatch(/cdk-bootstrap|S3Bucket|S3Key|assets/i);
    const fn = Object.values(member.Resources).find((r: any) => r.Type === 'AWS::Lambda::Function') as any;
    expect(typeof fn.Properties.Code.ZipFile).toBe('string');
    expect(fn.Properties.Runtime).toBe('nodejs24.x');
  });

  test('no account or region from synth time', () => {
    const withoutCode = JSON.stringify(member, (k, v) => (k === 'ZipFile' ? '<code>' : v));
    expect(withoutCode).not.toMatch(/\b\d{12}\b/);
    expect(withoutCode).not.toMatch(/\b(us|eu|ap|sa|ca|me|af|il|mx)-(gov-)?(east|west|north|south|central|northeast|southeast|northwest|southwest)-\d\b/);
  });

  test('fits an inline StackSet template body (51,200 bytes); size reported', () => {
    expect(base.construct.memberTemplateBytes).toBe(Buffer.byteLength(base.construct.stackSet.templateBody!));
    expect(base.construct.memberTemplateBytes).toBeLessThanOrEqual(51_200);
    process.stdout.write(`member template: ${base.construct.memberTemplateBytes} bytes\n`);
  });

  test('home-region guard: in two regions of one account, one role, one handler, one registration', () => {
    const evaluate = (condition: any, region: string, home: string): boolean => {
      const [a, b] = condition['Fn::Equals'].map((x: any) => resolveCfn(x, { 'AWS::Region': region, 'HomeRegion': home }));
      return a === b;
    };
    const counts: Record<string, number> = {};
    for (const region of ['us-east-1', 'eu-west-1']) {
      for (const resource of Object.values(member.Resources) as any[]) {
        const on = resource.Condition === undefined || evaluate(member.Conditions[resource.Condition], region, 'us-east-1');
        if (on) counts[resource.Type] = (counts[resource.Type] ?? 0) + 1;
      }
    }
    expect(counts['AWS::IAM::Role']).toBe(2); // the Cloudcraft role and the handler role, once each
    expect(counts['AWS::Lambda::Function']).toBe(1);
    expect(counts['Custom::CloudcraftRegistration']).toBe(1);
    expect(counts['AWS::CloudFormation::WaitConditionHandle']).toBe(2); // the only thing in the other region
    expect(Object.values(member.Resources).map((r: any) => r.Type)).not.toContain('Custom::CloudcraftIamParameters'); // read once, in the management account
  });

  test('accounts are named from their alias by default', () => {
    const registration = Object.values(member.Resources).find((r: any) => r.Type === 'Custom::CloudcraftRegistration') as any;
    expect(registration.Properties.AccountNamePattern).toBe('{alias}');
    expect(registration.Properties.AccountName).toBeUndefined();
    expect(memberText).toContain('iam:ListAccountAliases');
  });

  test('a names map and a pattern are passed through', () => {
    const { construct } = organization({ accountNaming: CloudcraftAccountNaming.fromPattern('aws/{alias}', { names: { [MEMBER]: 'Payments' } }) });
    const registration = Object.values(construct.memberTemplate.Resources).find((r: any) => r.Type === 'Custom::CloudcraftRegistration') as any;
    expect(registration.Properties).toMatchObject({ AccountNamePattern: 'aws/{alias}', AccountNames: JSON.stringify({ [MEMBER]: 'Payments' }) });
  });

  test('cdk-nag packs and schema validation as errors pass on the member template', () => {
    const app = new App({ context: { '@aws-cdk/core:validateAgainstDefaultRules': true } });
    const stack = addMemberStack(app, {});
    expect(findings(stack)).toEqual([]);
    Validations.of(app).addPlugins(...PACKS.map(Pack => new Pack()));
    expect(() => app.synth()).not.toThrow();
  });
});

describe('management stack', () => {
  test('a service-managed StackSet: explicit callAs, auto-deployment, named IAM, home region only, parameters from this stack', () => {
    const stackSet = Object.values(base.template.findResources('AWS::CloudFormation::StackSet'))[0].Properties;
    expect(stackSet).toMatchObject({
      PermissionModel: 'SERVICE_MANAGED',
      CallAs: 'SELF',
      AutoDeployment: { Enabled: true, RetainStacksOnAccountRemoval: false },
      Capabilities: ['CAPABILITY_NAMED_IAM'],
      ManagedExecution: { Active: true },
      OperationPreferences: { MaxConcurrentCount: 20, FailureToleranceCount: 0, RegionConcurrencyType: 'PARALLEL' },
      StackInstancesGroup: [{ Regions: ['us-east-1'], DeploymentTargets: { OrganizationalUnitIds: ['ou-ab12-cdef3456'] } }],
    });
    const parameters = Object.fromEntries(stackSet.Parameters.map((p: any) => [p.ParameterKey, p.ParameterValue]));
    expect(parameters.SharedSecretArn).toEqual({ Ref: expect.stringMatching(/^CloudcraftSharedApiKey/) });
    expect(parameters.SharedSecretKmsKeyArn).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^CloudcraftSharedKey/), 'Arn'] });
    expect(parameters.ExternalId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^CloudcraftIamParameters/), 'ExternalId'] });
    expect(parameters.HomeRegion).toBe('us-east-1');
    expect(JSON.parse(stackSet.TemplateBody)).toEqual(member);
  });

  test('options: delegated admin, account filter, concurrency, retention, no auto-deployment', () => {
    const { template } = organization({
      callAs: CloudcraftCallAs.DELEGATED_ADMIN,
      accountFilter: CloudcraftAccountFilter.exceptAccounts('444455556666'),
      maxConcurrentAccounts: 3,
      failureToleranceAccounts: 1,
      autoDeployment: false,
      retainStacksOnAccountRemoval: true,
      homeRegion: 'eu-central-1',
    });
    const stackSet = Object.values(template.findResources('AWS::CloudFormation::StackSet'))[0].Properties;
    expect(stackSet).toMatchObject({
      CallAs: 'DELEGATED_ADMIN',
      AutoDeployment: { Enabled: false, RetainStacksOnAccountRemoval: true },
      OperationPreferences: { MaxConcurrentCount: 3, FailureToleranceCount: 1 },
      StackInstancesGroup: [{ Regions: ['eu-central-1'], DeploymentTargets: { AccountFilterType: 'DIFFERENCE', Accounts: ['444455556666'] } }],
    });
    expect(CloudcraftAccountFilter.onlyAccounts('1')._bind()).toEqual({ type: 'INTERSECTION', accounts: ['1'] });
  });

  test('the management account is covered by an ordinary stack (StackSets never deploy there), or not', () => {
    base.template.resourceCountIs('Custom::CloudcraftRegistration', 1);
    organization({ includeThisAccount: false }).template.resourceCountIs('Custom::CloudcraftRegistration', 0);
  });

  test('the key is copied by a dynamic reference: the template holds no key, only the reference', () => {
    const secret = Object.values(base.template.findResources('AWS::SecretsManager::Secret'))[0].Properties;
    expect(JSON.stringify(secret.SecretString)).toMatch(/\{\{resolve:secretsmanager:/);
    expect(secret.KmsKeyId).toBeDefined();
  });

  test('cdk-nag packs and schema validation as errors pass on the management stack', () => {
    const { app, stack } = organization({}, { '@aws-cdk/core:validateAgainstDefaultRules': true });
    expect(findings(stack)).toEqual([]);
    Validations.of(app).addPlugins(...PACKS.map(Pack => new Pack()));
    expect(() => app.synth()).not.toThrow();
  });

  test('the organization example synthesizes', () => {
    const app = new App();
    const stack = new CloudcraftOrganizationExampleStack(app, 'OrgExample', {
      env: { region: 'eu-west-1' }, organizationId: ORG, organizationalUnitIds: ['r-ab12'],
    });
    expect(Template.fromStack(stack).findResources('AWS::CloudFormation::StackSet')).not.toEqual({});
  });

  test.each([
    [{ organizationId: 'org-1' }, /organizationId "org-1" is not an AWS Organizations ID/],
    [{ organizationalUnitIds: [] }, /organizationalUnitIds \[\] is empty/],
    [{ organizationalUnitIds: ['engineering'] }, /organizationalUnitIds "engineering" is not an OU or root ID/],
    [{ maxConcurrentAccounts: 0 }, /maxConcurrentAccounts 0 is not a whole number in range/],
    [{ failureToleranceAccounts: 1.5 }, /failureToleranceAccounts 1.5 is not a whole number in range/],
    [{ accountNaming: CloudcraftAccountNaming.fromPattern('prod') }, /has neither \{alias\} nor \{accountId\}/],
  ])('validation: %j', (over, message) => {
    expect(() => organization(over as any)).toThrow(message);
  });

  test('validation: a stack without a region needs homeRegion', () => {
    const stack = new Stack(new App(), 'Agnostic');
    expect(() => new CloudcraftOrganizationIntegration(stack, 'C', {
      apiKeySecret: secretsmanager.Secret.fromSecretNameV2(stack, 'S', 'k'), organizationId: ORG, organizationalUnitIds: ['r-ab12'], callAs: CloudcraftCallAs.SELF,
    })).toThrow(/homeRegion .* is not known: the stack has no region. Give homeRegion/);
  });
});

describe('the shared key under an IAM policy engine', () => {
  const refs = { 'AWS::Partition': 'aws', 'AWS::Region': 'us-east-1', 'AWS::AccountId': MANAGEMENT, 'AWS::URLSuffix': 'amazonaws.com' };
  const t = base.template.toJSON();
  const idOf = (type: string) => Object.keys(t.Resources).find(k => t.Resources[k].Type === type)!;
  const secretId = idOf('AWS::SecretsManager::Secret');
  const keyId = idOf('AWS::KMS::Key');
  const secretArn = `arn:aws:secretsmanager:us-east-1:${MANAGEMENT}:secret:CloudcraftSharedApiKey-AbCdEf`;
  const keyArn = `arn:aws:kms:us-east-1:${MANAGEMENT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
  const resolved = (value: unknown) => resolveCfn(value, { ...refs, [secretId]: secretArn, [`${keyId}.Arn`]: keyArn });
  const secretPolicy = resolved(Object.values(base.template.findResources('AWS::SecretsManager::ResourcePolicy'))[0].Properties.ResourcePolicy);
  const keyPolicy = resolved(t.Resources[keyId].Properties.KeyPolicy);
  // The member handler's own policy, from the member template, with the StackSet's parameter values.
  const memberPolicy = resolveCfn(
    (Object.values(member.Resources).find((r: any) => r.Type === 'AWS::IAM::ManagedPolicy') as any).Properties.PolicyDocument,
    { ...refs, 'AWS::AccountId': MEMBER, 'SharedSecretArn': secretArn, 'SharedSecretKmsKeyArn': keyArn, 'CloudcraftHandlerLogs19467EFE.Arn': `arn:aws:logs:us-east-1:${MEMBER}:log-group:handler:*` },
  );

  async function decide(principal: string, action: string, resource: string, resourcePolicy: any, orgId: string, extra: Record<string, string> = {}) {
    const accountId = principal.split(':')[4];
    const result: any = await runSimulation({
      request: {
        principal,
        action,
        resource: { resource, accountId: MANAGEMENT },
        contextVariables: { 'aws:PrincipalOrgID': orgId, 'aws:PrincipalAccount': accountId, 'aws:PrincipalArn': principal, ...extra },
      },
      identityPolicies: [{ name: 'handler', policy: memberPolicy }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy,
    } as any, {});
    if (result.resultType === 'error') throw new Error(JSON.stringify(result.errors).slice(0, 2000));
    return result.overallResult;
  }

  const handler = `arn:aws:iam::${MEMBER}:role/cloudcraft-registration-handler`;
  const viaSecretsManager = { 'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com' };

  test('a member account\'s registration handler can read the secret and decrypt it through Secrets Manager', async () => {
    expect(await decide(handler, 'secretsmanager:GetSecretValue', secretArn, secretPolicy, ORG)).toBe('Allowed');
    expect(await decide(handler, 'kms:Decrypt', keyArn, keyPolicy, ORG, viaSecretsManager)).toBe('Allowed');
  });

  test('another role in a member account cannot, even with the same permissions', async () => {
    const other = `arn:aws:iam::${MEMBER}:role/developer`;
    expect(await decide(other, 'secretsmanager:GetSecretValue', secretArn, secretPolicy, ORG)).not.toBe('Allowed');
    expect(await decide(other, 'kms:Decrypt', keyArn, keyPolicy, ORG, viaSecretsManager)).not.toBe('Allowed');
  });

  test('a role of the same name outside the Organization cannot', async () => {
    const outsider = 'arn:aws:iam::999988887777:role/cloudcraft-registration-handler';
    expect(await decide(outsider, 'secretsmanager:GetSecretValue', secretArn, secretPolicy, 'o-zzzzzzzzzz')).not.toBe('Allowed');
    expect(await decide(outsider, 'kms:Decrypt', keyArn, keyPolicy, 'o-zzzzzzzzzz', viaSecretsManager)).not.toBe('Allowed');
  });

  test('the key cannot be used directly, only through Secrets Manager', async () => {
    expect(await decide(handler, 'kms:Decrypt', keyArn, keyPolicy, ORG)).not.toBe('Allowed');
  });
});

describe('the standalone member template (for users without CDK)', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { MEMBER_TEMPLATE_FILE } = require('../tools/member-template') as { MEMBER_TEMPLATE_FILE: string };

  test('the build wrote it, and it is the member template with its parameters', () => {
    const fs = jest.requireActual('fs') as typeof import('fs');
    if (!fs.existsSync(MEMBER_TEMPLATE_FILE)) throw new Error(`${MEMBER_TEMPLATE_FILE} is missing: run "npx projen member-template" (part of the build)`);
    const standalone = JSON.parse(fs.readFileSync(MEMBER_TEMPLATE_FILE, 'utf8'));
    expect(standalone).toEqual(member);
    expect(Object.keys(standalone.Parameters).sort()).toEqual(['CloudcraftAccountId', 'ExternalId', 'HomeRegion', 'SharedSecretArn', 'SharedSecretKmsKeyArn']);
  });
});
