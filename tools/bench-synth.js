#!/usr/bin/env node
// One synth for `npm run bench`, in a fresh process as `cdk synth` runs an app: node tools/bench-synth.js
// <kind> <stacks> <outdir>. Also exports the stack builders, which the bench uses for its resource counts. Kinds: cloudcraft (CloudcraftIntegration as the example uses it), bareRole (the role
// alone, written by hand), providerFramework (the same role plus the handler as an onEvent function behind CDK's
// Provider framework). Prints {"loadMs", "appMs"}: module loading, then `new App()` to a written cloud assembly.
// A fresh process per synth, because aws-cdk-lib caches its CloudFormation validation engine between apps of one
// process and rebuilds it when the resource types change, which would favour whichever kind ran last.
'use strict';
const started = process.hrtime.bigint();
const path = require('path');
const { App, CustomResource, Duration, Stack } = require('aws-cdk-lib');
const iam = require('aws-cdk-lib/aws-iam');
const lambda = require('aws-cdk-lib/aws-lambda');
const secretsmanager = require('aws-cdk-lib/aws-secretsmanager');
const cr = require('aws-cdk-lib/custom-resources');
const lib = require(path.join(__dirname, '..', 'build', 'index.js'));

const EXTERNAL_ID = '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';
const CODE = require('fs').readFileSync(path.join(__dirname, '..', 'assets', 'registration-handler.js'), 'utf8');

const secretOf = stack => secretsmanager.Secret.fromSecretNameV2(stack, 'ApiKeySecret', 'cloudcraft/api-key');
const bareRole = stack => new iam.Role(stack, 'Role', {
  assumedBy: new iam.AccountPrincipal('968898580625').withConditions({ StringEquals: { 'sts:ExternalId': EXTERNAL_ID } }),
  managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('ReadOnlyAccess')],
  maxSessionDuration: Duration.hours(1),
});
const builders = {
  cloudcraft: (stack, i) => new lib.CloudcraftIntegration(stack, 'Cloudcraft', {
    apiKey: lib.CloudcraftApiKey.fromSecret(secretOf(stack)),
    accountName: lib.CloudcraftAccountName.of(`account-${i}`),
  }),
  bareRole,
  providerFramework: (stack, i) => {
    const role = bareRole(stack);
    const onEvent = new lambda.Function(stack, 'OnEvent', { runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline(CODE) });
    secretOf(stack).grantRead(onEvent);
    const provider = new cr.Provider(stack, 'Provider', { onEventHandler: onEvent });
    new CustomResource(stack, 'Registration', { serviceToken: provider.serviceToken, properties: { RoleArn: role.roleArn, AccountName: `account-${i}` } });
  },
};
module.exports = { builders };

if (require.main === module) {
  const [kind, count, outdir] = process.argv.slice(2);
  if (!builders[kind]) throw new Error(`unknown kind ${kind}`);
  const loaded = process.hrtime.bigint();
  const app = new App({ outdir });
  for (let i = 0; i < Number(count); i++) builders[kind](new Stack(app, `Account${i}`), i);
  app.synth();
  const done = process.hrtime.bigint();
  process.stdout.write(JSON.stringify({ loadMs: Number(loaded - started) / 1e6, appMs: Number(done - loaded) / 1e6 }));
}
