/**
 * The standalone CloudFormation templates shipped in the package for users without CDK (written by the build:
 * `npx projen templates`): what the build wrote is what the constructs make now, and each deploys as a plain
 * template (no assets, no bootstrap, inline code). The member template is a StackSet's inline TemplateBody: under
 * 51,200 bytes, which CloudFormation enforces; the others are reported in bytes (deployed from S3, they may take 1 MB).
 */
import * as fs from 'fs';
import { App } from 'aws-cdk-lib';
import { resolveDeep } from './helpers';
import { buildMemberTemplate } from '../lib/organization/member-template';
import { configOf, parseDeployment, parseEnvironment } from '../lib/organization/registrar/config';
import { ENVIRONMENT_VARIABLE, REGISTRAR_TYPE } from '../lib/organization/registrar/contract';
import { buildIntegrationTemplate, buildOrganizationTemplate, INTEGRATION_TEMPLATE_FILE, MEMBER_TEMPLATE_FILE, ORGANIZATION_TEMPLATE_FILE } from '../tools/templates';

function written(file: string): any {
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run "npx projen templates" (part of the build)`);
  return { template: JSON.parse(fs.readFileSync(file, 'utf8')), bytes: fs.statSync(file).size };
}

function expectPlain(template: any): void {
  const text = JSON.stringify(template);
  expect(template.Rules).toBeUndefined();
  expect(template.Parameters.BootstrapVersion).toBeUndefined();
  expect(template.Transform).toBeUndefined();
  expect(text).not.toMatch(/cdk-bootstrap|S3Bucket|S3Key|AssetParameters|"AWS::CloudFormation::Stack"/);
}

test('the member template: the Cloudcraft role only, as the Organization construct deploys it by default', () => {
  const { template, bytes } = written(MEMBER_TEMPLATE_FILE);
  expect(template).toEqual(buildMemberTemplate(new App(), {}));
  expect(Object.keys(template.Parameters).sort()).toEqual(['CloudcraftAwsAccountId', 'ExternalId', 'HomeRegion']);
  expect(Object.values(template.Resources).map((r: any) => r.Type).sort()).toEqual(['AWS::CloudFormation::WaitConditionHandle', 'AWS::IAM::Role']);
  expectPlain(template);
  expect(bytes).toBeLessThanOrEqual(51_200);
});

test('the single-account integration: role, inline handler and registration, with the secret and the name as parameters', () => {
  const { template } = written(INTEGRATION_TEMPLATE_FILE);
  expect(template).toEqual(buildIntegrationTemplate());
  expect(Object.keys(template.Parameters).sort()).toEqual(['AccountName', 'ApiKeySecretArn']);
  const types = Object.values(template.Resources).map((r: any) => r.Type);
  expect(types).toEqual(expect.arrayContaining(['AWS::IAM::Role', 'AWS::Lambda::Function', 'Custom::CloudcraftRegistration']));
  const fn = Object.values(template.Resources).find((r: any) => r.Type === 'AWS::Lambda::Function') as any;
  expect(typeof fn.Properties.Code.ZipFile).toBe('string');
  expectPlain(template);
  expectClosedReferences(template);
  // Its size matters only where it is passed inline (the README's command): test/docs.test.ts checks that; the bench reports it.
});

/** Every Ref names a parameter, a resource or a pseudo parameter; every GetAtt, DependsOn and Fn::Sub name a resource. */
function expectClosedReferences(template: any): void {
  const known = new Set([...Object.keys(template.Parameters ?? {}), ...Object.keys(template.Resources)]);
  const names: string[] = [];
  const visit = (node: any): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== 'object') return;
    if (typeof node.Ref === 'string' && !node.Ref.startsWith('AWS::')) names.push(node.Ref);
    if (node['Fn::GetAtt'] !== undefined) names.push(Array.isArray(node['Fn::GetAtt']) ? node['Fn::GetAtt'][0] : node['Fn::GetAtt'].split('.')[0]);
    const sub = node['Fn::Sub'];
    if (sub !== undefined) {
      const [text, local] = Array.isArray(sub) ? sub : [sub, {}];
      for (const [, id] of text.matchAll(/\$\{([^!}][^}.]*)/g)) if (!(id in local) && !id.startsWith('AWS::')) names.push(id);
    }
    Object.values(node).forEach(visit);
  };
  visit(template.Resources);
  visit(template.Outputs ?? {});
  for (const resource of Object.values<any>(template.Resources)) names.push(...[resource.DependsOn ?? []].flat());
  expect(names.length).toBeGreaterThan(0);
  expect(names.filter(name => !known.has(name))).toEqual([]);
}

test('the Organization template: the whole management side, with the secret and the OUs as parameters', () => {
  const { template, bytes } = written(ORGANIZATION_TEMPLATE_FILE);
  expect(template).toEqual(buildOrganizationTemplate());
  expect(template.Parameters.OrganizationalUnitIds.Type).toBe('CommaDelimitedList');
  expect(Object.keys(template.Parameters).sort()).toEqual(['ApiKeySecretArn', 'OrganizationalUnitIds']);
  const types = Object.values(template.Resources).map((r: any) => r.Type);
  expect(types).toEqual(expect.arrayContaining(['AWS::CloudFormation::StackSet', 'AWS::DynamoDB::Table', 'AWS::Lambda::Function', 'Custom::CloudcraftOrganizationRegistrar']));
  // One function only, with inline code: no helper of CDK's own (a list token would bring its JSON-stringify provider).
  expect(types.filter(t => t === 'AWS::Lambda::Function')).toHaveLength(1);
  expect(types.filter(t => t.startsWith('Custom::AWSCDK'))).toEqual([]);
  expectPlain(template);
  expectClosedReferences(template);

  const stackSet = Object.values(template.Resources).find((r: any) => r.Type === 'AWS::CloudFormation::StackSet') as any;
  expect(stackSet.Properties.StackInstancesGroup[0]).toEqual({ DeploymentTargets: { OrganizationalUnitIds: { Ref: 'OrganizationalUnitIds' } }, Regions: [{ Ref: 'AWS::Region' }] });
  // The registrar reads the same OUs and region, once CloudFormation has resolved its environment and the
  // properties of its resource.
  const fn = Object.values(template.Resources).find((r: any) => r.Type === 'AWS::Lambda::Function') as any;
  const registrar = Object.values(template.Resources).find((r: any) => r.Type === REGISTRAR_TYPE) as any;
  const values = {
    'OrganizationalUnitIds': ['ou-ab12-cdef3456', 'r-ab12'],
    'AWS::Region': 'eu-central-1',
    'AWS::Partition': 'aws',
    'AWS::AccountId': '111122223333',
    'AWS::StackId': 'arn:aws:cloudformation:eu-central-1:111122223333:stack/cloudcraft-organization/1',
    'ApiKeySecretArn': 'arn:aws:secretsmanager:eu-central-1:111122223333:secret:cloudcraft/api-key-AbCdEf',
  };
  const config = configOf(parseEnvironment(resolveDeep(fn.Properties.Environment.Variables[ENVIRONMENT_VARIABLE], values)),
    parseDeployment(resolveDeep(registrar.Properties, values)));
  expect(config.targets).toEqual(['ou-ab12-cdef3456', 'r-ab12']);
  expect(config.homeRegion).toBe('eu-central-1');
  expect(config.apiKey.id).toBe('arn:aws:secretsmanager:eu-central-1:111122223333:secret:cloudcraft/api-key-AbCdEf');
  expect(config.stackId).toBe(values['AWS::StackId']);
  // Deployed with --s3-bucket (or from the console, which stages it in S3): up to 1 MB.
  expect(bytes).toBeLessThanOrEqual(1_000_000);
});
