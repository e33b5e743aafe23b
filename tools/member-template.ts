/**
 * Writes the standalone CloudFormation templates shipped in the npm package (assets/), for users without CDK:
 * - cloudcraft-member.template.json: the Organization member template (the Cloudcraft role only, with the
 *   home-region guard), for a Console quick-create, your own StackSet or Customizations for Control Tower;
 * - cloudcraft-integration.template.json: the single-account integration (role, inline handler, registration),
 *   launched with `aws cloudformation deploy` (no assets, no bootstrap).
 * Run by the build (`npx projen member-template`).
 */
import * as fs from 'fs';
import * as path from 'path';
import { App, CfnParameter, DefaultStackSynthesizer, Stack } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { CloudcraftAccountName, CloudcraftApiKey, CloudcraftIntegration } from '../lib';
import { buildMemberTemplate } from '../lib/organization/member-template';
import { acknowledge } from '../lib/private/acknowledge';

export const MEMBER_TEMPLATE_FILE = path.join(__dirname, '..', 'assets', 'cloudcraft-member.template.json');
export const INTEGRATION_TEMPLATE_FILE = path.join(__dirname, '..', 'assets', 'cloudcraft-integration.template.json');

/** The single-account integration as a plain template: the key's secret and the account name are parameters. */
export function buildIntegrationTemplate(): Record<string, any> {
  const app = new App({ analyticsReporting: false });
  const stack = new Stack(app, 'CloudcraftIntegration', {
    synthesizer: new DefaultStackSynthesizer({ generateBootstrapVersionRule: false }),
    analyticsReporting: false,
    description: 'Connects this AWS account to Cloudcraft: the read-only role Cloudcraft assumes, and its registration (cdk-cloudcraft)',
  });
  const secretArn = new CfnParameter(stack, 'ApiKeySecretArn', {
    type: 'String',
    description: 'ARN of the Secrets Manager secret that holds the Cloudcraft API key (the key alone, as plain text)',
    allowedPattern: '^arn:aws[\\w-]*:secretsmanager:[a-z0-9-]+:\\d{12}:secret:.+$',
  }).valueAsString;
  acknowledge(stack, [{
    id: 'CloudFormation-Validate::W2509',
    reason: 'ApiKeySecretArn holds the ARN of the secret, not the key: NoEcho would only hide it from operators.',
  }]);
  const accountName = new CfnParameter(stack, 'AccountName', { type: 'String', description: 'The account\'s name in Cloudcraft', minLength: 1 }).valueAsString;
  new CloudcraftIntegration(stack, 'Cloudcraft', {
    apiKey: CloudcraftApiKey.fromSecret(secretsmanager.Secret.fromSecretCompleteArn(stack, 'ApiKey', secretArn)),
    accountName: CloudcraftAccountName.of(accountName),
  });
  return app.synth().getStackByName(stack.stackName).template;
}

if (require.main === module) {
  fs.mkdirSync(path.dirname(MEMBER_TEMPLATE_FILE), { recursive: true });
  // The integration template carries the handler's code inline: written compact, to stay far under the 51,200 bytes
  // `aws cloudformation deploy --template-file` accepts without an S3 bucket.
  const files: Array<[string, string]> = [
    [MEMBER_TEMPLATE_FILE, JSON.stringify(buildMemberTemplate(new App(), {}), null, 1)],
    [INTEGRATION_TEMPLATE_FILE, JSON.stringify(buildIntegrationTemplate())],
  ];
  for (const [file, text] of files) {
    fs.writeFileSync(file, `${text}\n`);
    process.stdout.write(`${path.relative(process.cwd(), file)}: ${fs.statSync(file).size} bytes\n`);
  }
}
