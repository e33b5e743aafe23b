/**
 * Writes the standalone CloudFormation templates shipped in the npm package (assets/), for users without CDK:
 * - cloudcraft-member.template.json: the Organization member template (the Cloudcraft role only, with the
 *   home-region guard), for a Console quick-create, your own StackSet or Customizations for Control Tower;
 * - cloudcraft-integration.template.json: the single-account integration (role, inline handler, registration),
 *   launched with `aws cloudformation deploy` (no assets, no bootstrap);
 * - cloudcraft-organization.template.json: the Organization rollout from the management account (StackSet of
 *   ReadOnlyAccess roles, registrar, ledger, triggers, alarm), the OUs and the key's secret as parameters.
 * Run by the build (`npx projen templates`).
 */
import * as fs from 'fs';
import * as path from 'path';
import { App, CfnParameter, DefaultStackSynthesizer, Stack } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { CloudcraftAccountName, CloudcraftApiKey, CloudcraftIntegration, CloudcraftOrganizationIntegration } from '../lib';
import { buildMemberTemplate } from '../lib/organization/member-template';
import { acknowledge } from '../lib/private/acknowledge';

export const MEMBER_TEMPLATE_FILE = path.join(__dirname, '..', 'assets', 'cloudcraft-member.template.json');
export const INTEGRATION_TEMPLATE_FILE = path.join(__dirname, '..', 'assets', 'cloudcraft-integration.template.json');
export const ORGANIZATION_TEMPLATE_FILE = path.join(__dirname, '..', 'assets', 'cloudcraft-organization.template.json');

function apiKeySecretArn(stack: Stack): string {
  const arn = new CfnParameter(stack, 'ApiKeySecretArn', {
    type: 'String',
    description: 'ARN of the Secrets Manager secret that holds the Cloudcraft API key (the key alone, as plain text)',
    allowedPattern: '^arn:aws[\\w-]*:secretsmanager:[a-z0-9-]+:\\d{12}:secret:.+$',
  }).valueAsString;
  acknowledge(stack, [{
    id: 'CloudFormation-Validate::W2509',
    reason: 'ApiKeySecretArn holds the ARN of the secret, not the key: NoEcho would only hide it from operators.',
  }]);
  return arn;
}

/**
 * Without the `cdk_nag` metadata of the acknowledgements: cdk-nag reads it in CDK apps only. The logical IDs stay
 * those of the construct, so that a stack launched from the file can later be taken over by a CDK app with the same
 * construct without replacing its resources.
 */
function withoutNagMetadata(template: Record<string, any>): Record<string, any> {
  for (const resource of Object.values<any>(template.Resources ?? {})) {
    if (!resource.Metadata) continue;
    delete resource.Metadata.cdk_nag;
    if (Object.keys(resource.Metadata).length === 0) delete resource.Metadata;
  }
  return template;
}

function plainStack(app: App, id: string, description: string): Stack {
  return new Stack(app, id, {
    synthesizer: new DefaultStackSynthesizer({ generateBootstrapVersionRule: false }),
    analyticsReporting: false,
    description,
  });
}

/**
 * The Organization rollout as a plain template for the management account: the key's secret and the OUs are
 * parameters; members get the Cloudcraft role with ReadOnlyAccess in the region the stack is deployed in.
 */
export function buildOrganizationTemplate(): Record<string, any> {
  const app = new App({ analyticsReporting: false });
  const stack = plainStack(app, 'CloudcraftOrganization',
    'Connects the accounts of AWS Organizations OUs to Cloudcraft: a StackSet of read-only roles and one registrar in the management account (cdk-cloudcraft)');
  const secretArn = apiKeySecretArn(stack);
  const ous = new CfnParameter(stack, 'OrganizationalUnitIds', {
    type: 'CommaDelimitedList',
    description: 'The OUs to connect (ou-...), or the root (r-...), comma-separated; nested OUs are included',
  }).valueAsList;
  new CloudcraftOrganizationIntegration(stack, 'Cloudcraft', {
    apiKey: CloudcraftApiKey.fromSecret(secretsmanager.Secret.fromSecretCompleteArn(stack, 'ApiKey', secretArn)),
    organizationalUnitIds: ous,
  });
  return withoutNagMetadata(app.synth().getStackByName(stack.stackName).template);
}

/** The single-account integration as a plain template: the key's secret and the account name are parameters. */
export function buildIntegrationTemplate(): Record<string, any> {
  const app = new App({ analyticsReporting: false });
  const stack = plainStack(app, 'CloudcraftIntegration',
    'Connects this AWS account to Cloudcraft: the read-only role Cloudcraft assumes, and its registration (cdk-cloudcraft)');
  const secretArn = apiKeySecretArn(stack);
  const accountName = new CfnParameter(stack, 'AccountName', { type: 'String', description: 'The account\'s name in Cloudcraft', minLength: 1 }).valueAsString;
  new CloudcraftIntegration(stack, 'Cloudcraft', {
    apiKey: CloudcraftApiKey.fromSecret(secretsmanager.Secret.fromSecretCompleteArn(stack, 'ApiKey', secretArn)),
    accountName: CloudcraftAccountName.of(accountName),
  });
  return withoutNagMetadata(app.synth().getStackByName(stack.stackName).template);
}

if (require.main === module) {
  fs.mkdirSync(path.dirname(MEMBER_TEMPLATE_FILE), { recursive: true });
  // Written compact: the integration template carries the handler's code inline, and the README deploys it with
  // `aws cloudformation deploy --template-file` (51,200 bytes without an S3 bucket: test/docs.test.ts checks it).
  const files: Array<[string, string]> = [
    [MEMBER_TEMPLATE_FILE, JSON.stringify(buildMemberTemplate(new App(), {}), null, 1)],
    [INTEGRATION_TEMPLATE_FILE, JSON.stringify(buildIntegrationTemplate())],
    [ORGANIZATION_TEMPLATE_FILE, JSON.stringify(buildOrganizationTemplate())],
  ];
  for (const [file, text] of files) {
    fs.writeFileSync(file, `${text}\n`);
    process.stdout.write(`${path.relative(process.cwd(), file)}: ${fs.statSync(file).size} bytes\n`);
  }
}
