import { App } from 'aws-cdk-lib';
import { accessFromContext, CloudcraftExampleStack } from './cloudcraft-example-stack';
import { CloudcraftOrganizationExampleStack } from './cloudcraft-organization-example-stack';

const app = new App();
const context = (key: string, fallback: string): string => app.node.tryGetContext(key) ?? fallback;

// One account: cdk deploy CloudcraftExampleStack
new CloudcraftExampleStack(app, 'CloudcraftExampleStack', {
  access: accessFromContext(app.node.tryGetContext('access')),
  description: 'Cloudcraft integration example (cdk-cloudcraft)',
});

// An Organization, from its management account:
//   cdk deploy CloudcraftOrganizationExampleStack -c organizationalUnitIds=ou-...,ou-... [-c delegatedAdmin=true]
// The placeholders below only let the app synthesize offline.
new CloudcraftOrganizationExampleStack(app, 'CloudcraftOrganizationExampleStack', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: context('region', process.env.CDK_DEFAULT_REGION ?? 'us-east-1') },
  organizationalUnitIds: context('organizationalUnitIds', 'r-exam').split(','),
  delegatedAdmin: context('delegatedAdmin', 'false') === 'true',
  description: 'Cloudcraft integration of an AWS Organization (cdk-cloudcraft)',
});
app.synth();
