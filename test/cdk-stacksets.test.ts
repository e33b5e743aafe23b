/**
 * The member integration inside cdklabs/cdk-stacksets, as a user of that library would write it: a
 * StackSetStack holding a CloudcraftMemberIntegration, deployed by its StackSet construct.
 */
import * as fs from 'fs';
import * as path from 'path';
import { App, CfnParameter, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Capability, DeploymentType, StackSet, StackSetStack, StackSetTarget, StackSetTemplate } from 'cdk-stacksets';
import { CloudcraftApiKey, CloudcraftMemberIntegration } from '../lib';

test('CloudcraftMemberIntegration in a StackSetStack: a clean member template and a service-managed StackSet', () => {
  const app = new App();
  const management = new Stack(app, 'Management', { env: { account: '111122223333', region: 'us-east-1' } });
  const member = new StackSetStack(management, 'CloudcraftMember');
  const parameter = (name: string) => new CfnParameter(member, name, { type: 'String' }).valueAsString;
  new CloudcraftMemberIntegration(member, 'Cloudcraft', {
    apiKey: CloudcraftApiKey.fromSecret(secretsmanager.Secret.fromSecretAttributes(member, 'Key', {
      secretCompleteArn: parameter('SharedSecretArn'),
      encryptionKey: kms.Key.fromKeyArn(member, 'Cmk', parameter('SharedSecretKmsKeyArn')),
    })),
    externalId: parameter('ExternalId'),
    homeRegion: parameter('HomeRegion'),
  });
  new StackSet(management, 'StackSet', {
    template: StackSetTemplate.fromStackSetStack(member),
    target: StackSetTarget.fromOrganizationalUnits({
      regions: ['us-east-1'],
      organizationalUnits: ['ou-ab12-cdef3456'],
      parameterOverrides: {
        SharedSecretArn: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:cloudcraft-AbCdEf',
        SharedSecretKmsKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
        ExternalId: '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0',
        HomeRegion: 'us-east-1',
      },
    }),
    deploymentType: DeploymentType.serviceManaged({ delegatedAdmin: false }),
    capabilities: [Capability.NAMED_IAM],
  });

  const assembly = app.synth();
  Template.fromStack(management).hasResourceProperties('AWS::CloudFormation::StackSet', { PermissionModel: 'SERVICE_MANAGED', CallAs: 'SELF' });
  const template = JSON.parse(fs.readFileSync(path.join(assembly.directory, member.templateFile), 'utf8'));
  expect(template.Parameters.BootstrapVersion).toBeUndefined();
  expect(template.Rules).toBeUndefined();
  const types = Object.values(template.Resources).map((r: any) => r.Type);
  expect(types).toEqual(expect.arrayContaining(['AWS::IAM::Role', 'AWS::Lambda::Function', 'Custom::CloudcraftRegistration']));
  const fn = Object.values(template.Resources).find((r: any) => r.Type === 'AWS::Lambda::Function') as any;
  expect(typeof fn.Properties.Code.ZipFile).toBe('string');
  expect(fn.Condition).toBeDefined();
  // No file asset was needed: nothing for member accounts to fetch from the management account's bucket.
  const assets = JSON.parse(fs.readFileSync(path.join(assembly.directory, 'Management.assets.json'), 'utf8'));
  const sources = Object.values(assets.files).map((f: any) => f.source.path as string);
  expect(sources.length).toBeGreaterThan(0);
  expect(sources.filter(p => !p.endsWith('.template.json'))).toEqual([]);
  expect(Object.keys(assets.dockerImages ?? {})).toEqual([]);
});
