/**
 * Where the API key comes from: a key written into the template is called out at synth.
 */
import { App, SecretValue, Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { CloudcraftAccountName, CloudcraftApiKey, CloudcraftIntegration } from '../lib';

const EXTERNAL_ID = '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';

function withSecret(make: (stack: Stack) => secretsmanager.ISecret): Annotations {
  const stack = new Stack(new App(), 'Keys');
  new CloudcraftIntegration(stack, 'Cloudcraft', { apiKey: CloudcraftApiKey.fromSecret(make(stack)), accountName: CloudcraftAccountName.of('production'), externalId: EXTERNAL_ID });
  return Annotations.fromStack(stack);
}

test('a secret created in the app with a plain-text value: a warning says the key is in the template, and what to do', () => {
  const annotations = withSecret(stack => new secretsmanager.Secret(stack, 'Key', { secretStringValue: SecretValue.unsafePlainText('not-a-real-key-but-in-the-template') }));
  annotations.hasWarning('/Keys/Key', Match.stringLikeRegexp('API key is written into the template.*fromSecretNameV2'));
});

test.each([
  ['an imported secret', (stack: Stack) => secretsmanager.Secret.fromSecretNameV2(stack, 'Key', 'cloudcraft/api-key')],
  ['a generated secret', (stack: Stack) => new secretsmanager.Secret(stack, 'Key')],
  ['a secret copied by a dynamic reference', (stack: Stack) => new secretsmanager.Secret(stack, 'Key', { secretStringValue: SecretValue.secretsManager('cloudcraft/source') })],
])('%s: no warning', (_name, make) => {
  expect(withSecret(make).findWarning('*', Match.stringLikeRegexp('API key is written into the template'))).toEqual([]);
});
