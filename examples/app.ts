import { App } from 'aws-cdk-lib';
import { accessFromContext, CloudcraftExampleStack } from './cloudcraft-example-stack';
import { CloudcraftOrganizationExampleStack } from './cloudcraft-organization-example-stack';
import { CloudcraftCallAs } from '../lib';

const app = new App();
const context = (key: string, fallback: string): string => app.node.tryGetContext(key) ?? fallback;

// One account: cdk deploy CloudcraftExampleStack
new CloudcraftExampleStack(app, 'CloudcraftExampleStack', {
  access: accessFromContext(app.node.tryGetContext('access')),
  description: 'Cloudcraft integration example (cdk-cloudcraft)',
});

// An Organization, from its management account:
//   cdk deploy CloudcraftOrganizationExampleStack -c organizationId=o-... -c organizationalUnitIds=ou-...,ou-...
// The placeholders below only let the app synthesize offline.
new CloudcraftOrganizationExampleStack(app, 'CloudcraftOrganizationExampleStack', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: context('region', process.env.CDK_DEFAULT_REGION ?? 'us-east-1') },
  organizationId: context('organizationId', 'o-exampleorg1'),
  organizationalUnitIds: context('organizationalUnitIds', 'r-exam').split(','),
  callAs: context('callAs', 'SELF') === 'DELEGATED_ADMIN' ? CloudcraftCallAs.DELEGATED_ADMIN : CloudcraftCallAs.SELF,
  description: 'Cloudcraft integration of an AWS Organization (cdk-cloudcraft)',
});
app.synth();
