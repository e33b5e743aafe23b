/**
 * The standalone CloudFormation templates shipped in the package for users without CDK (written by the build:
 * `npx projen member-template`): what the build wrote is what the constructs make now, and each deploys as a plain
 * template (no assets, no bootstrap, inline code, under the 51,200-byte limit of a template file).
 */
import * as fs from 'fs';
import { App } from 'aws-cdk-lib';
import { buildMemberTemplate } from '../lib/organization/member-template';
import { buildIntegrationTemplate, INTEGRATION_TEMPLATE_FILE, MEMBER_TEMPLATE_FILE } from '../tools/member-template';

function written(file: string): any {
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run "npx projen member-template" (part of the build)`);
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
  const { template, bytes } = written(INTEGRATION_TEMPLATE_FILE);
  expect(template).toEqual(buildIntegrationTemplate());
  expect(Object.keys(template.Parameters).sort()).toEqual(['AccountName', 'ApiKeySecretArn']);
  const types = Object.values(template.Resources).map((r: any) => r.Type);
  expect(types).toEqual(expect.arrayContaining(['AWS::IAM::Role', 'AWS::Lambda::Function', 'Custom::CloudcraftRegistration']));
  const fn = Object.values(template.Resources).find((r: any) => r.Type === 'AWS::Lambda::Function') as any;
  expect(typeof fn.Properties.Code.ZipFile).toBe('string');
  expectPlain(template);
  process.stdout.write(`standalone integration template: ${bytes} bytes\n`);
  expect(bytes).toBeLessThanOrEqual(51_200);
});
