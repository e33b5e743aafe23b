/**
 * cdk-nag 2 (Aspects, `cdk_nag` metadata), still widely used: the constructs' acknowledgements work there too.
 * Every pack on the single-account example, the Organization stack and the member template: no error left.
 */
import { App, Aspects, IAspect, Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks, ServerlessChecks } from 'cdk-nag2';
import { CloudcraftExampleStack } from '../examples/cloudcraft-example-stack';
import { CloudcraftAccess, CloudcraftApiKey, CloudcraftOrganizationIntegration } from '../lib';
import { addMemberStack } from '../lib/organization/member-template';

const PACKS: Array<() => IAspect> = [
  () => new AwsSolutionsChecks(), () => new NIST80053R5Checks(), () => new HIPAASecurityChecks(),
  () => new PCIDSS321Checks(), () => new ServerlessChecks(),
];

function nagErrors(app: App, stacks: Stack[]): string[] {
  for (const pack of PACKS) Aspects.of(app).add(pack());

  return stacks.flatMap(stack => Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('.*')).map(e => `${e.id}: ${String(e.entry.data).split('\n')[0]}`));
}

test.each([
  ['readOnlyAccess()', () => CloudcraftAccess.readOnlyAccess()],
  ['minimal()', () => CloudcraftAccess.minimal()],
])('the single-account example with %s: no cdk-nag 2 error', (_name, access) => {
  const app = new App();
  const stack = new CloudcraftExampleStack(app, 'Example', { access: access() });
  expect(nagErrors(app, [stack])).toEqual([]);
});

test.each([
  ['without partition literals', {}],
  ['with the flags `cdk init` writes (partition literals)', { '@aws-cdk/core:enablePartitionLiterals': true }],
])('the Organization stack (concrete env, %s) and its member template: no cdk-nag 2 error', (_name, context) => {
  const app = new App({ context });
  const stack = new Stack(app, 'Org', { env: { account: '111122223333', region: 'us-east-1' } });
  new CloudcraftOrganizationIntegration(stack, 'Cloudcraft', {
    apiKey: CloudcraftApiKey.fromSecret(secretsmanager.Secret.fromSecretNameV2(stack, 'Key', 'cloudcraft/api-key')),
    organizationalUnitIds: ['r-ab12'],
  });
  const member = addMemberStack(app, { access: CloudcraftAccess.minimal() });
  expect(nagErrors(app, [stack, member])).toEqual([]);
});

test('control: cdk-nag 2 does report the same finding on a role that does not acknowledge it', () => {
  const app = new App();
  const stack = new Stack(app, 'Bare');
  new iam.Role(stack, 'Role', { assumedBy: new iam.AccountPrincipal('968898580625'), managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('ReadOnlyAccess')] });
  expect(nagErrors(app, [stack]).join('\n')).toMatch(/AwsSolutions-IAM4/);
});
