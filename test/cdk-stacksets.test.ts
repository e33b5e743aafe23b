/**
 * The Cloudcraft role inside cdklabs/cdk-stacksets, as a user of that library would write it (their own StackSet,
 * registered by the Organization registrar or by hand): a StackSetStack holding a CloudcraftRole.
 */
import * as fs from 'fs';
import * as path from 'path';
import { App, CfnParameter, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Capability, DeploymentType, StackSet, StackSetStack, StackSetTarget, StackSetTemplate } from 'cdk-stacksets';
import { CloudcraftAccess, CloudcraftRole } from '../lib';

test('CloudcraftRole in a StackSetStack: a clean member template and a service-managed StackSet', () => {
  const app = new App();
  const management = new Stack(app, 'Management', { env: { account: '111122223333', region: 'us-east-1' } });
  const member = new StackSetStack(management, 'CloudcraftMember');
  new CloudcraftRole(member, 'Cloudcraft', {
    externalId: new CfnParameter(member, 'ExternalId', { type: 'String' }).valueAsString,
    access: CloudcraftAccess.minimal(),
  });
  new StackSet(management, 'StackSet', {
    template: StackSetTemplate.fromStackSetStack(member),
    target: StackSetTarget.fromOrganizationalUnits({
      regions: ['us-east-1'],
      organizationalUnits: ['ou-ab12-cdef3456'],
      parameterOverrides: { ExternalId: '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0' },
    }),
    deploymentType: DeploymentType.serviceManaged({ delegatedAdmin: false }),
    capabilities: [Capability.NAMED_IAM],
  });

  const assembly = app.synth();
  Template.fromStack(management).hasResourceProperties('AWS::CloudFormation::StackSet', { PermissionModel: 'SERVICE_MANAGED', CallAs: 'SELF' });
  const template = JSON.parse(fs.readFileSync(path.join(assembly.directory, member.templateFile), 'utf8'));
  expect(template.Parameters.BootstrapVersion).toBeUndefined();
  expect(template.Rules).toBeUndefined();
  const types = Object.values(template.Resources).map((r: any) => r.Type).sort();
  expect(types).toEqual(['AWS::IAM::ManagedPolicy', 'AWS::IAM::Role']);
  // No file asset was needed: nothing for member accounts to fetch from the management account's bucket.
  const assets = JSON.parse(fs.readFileSync(path.join(assembly.directory, 'Management.assets.json'), 'utf8'));
  const sources = Object.values(assets.files).map((f: any) => f.source.path as string);
  expect(sources.filter(p => !p.endsWith('.template.json'))).toEqual([]);
  expect(Object.keys(assets.dockerImages ?? {})).toEqual([]);
});
