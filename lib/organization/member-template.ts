import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, CfnParameter, DefaultStackSynthesizer, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { CloudcraftMemberIntegration, CloudcraftMemberOptions } from './member-integration';
import { acknowledge } from '../private/acknowledge';
import { CloudcraftApiKey } from '../registration/api-key';

/** Parameters of the member template, in the order StackSets gets them. */
export const MEMBER_PARAMETERS = ['SharedSecretArn', 'SharedSecretKmsKeyArn', 'ExternalId', 'CloudcraftAccountId', 'HomeRegion'] as const;
export type MemberParameter = typeof MEMBER_PARAMETERS[number];

/**
 * Builds the member template: a flat, asset-free, bootstrap-free template of one `CloudcraftMemberIntegration`,
 * whose references to the management account come in as parameters. Returns the template object.
 */
export function buildMemberTemplate(options: CloudcraftMemberOptions): Record<string, any> {
  // A detached app with its own output folder: it must not write into the outer app's cdk.out (CDK_OUTDIR).
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-cloudcraft-member-'));
  try {
    const app = new App({ analyticsReporting: false, outdir });
    const stack = addMemberStack(app, options);
    return app.synth().getStackByName(stack.stackName).template;
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

/** Adds the member stack to `app` (tests use this to run rule engines on it). */
export function addMemberStack(app: App, options: CloudcraftMemberOptions): Stack {
  const stack = new Stack(app, 'CloudcraftMember', {
    synthesizer: new DefaultStackSynthesizer({ generateBootstrapVersionRule: false }),
    analyticsReporting: false,
    description: 'Cloudcraft integration of an AWS Organization member account (cdk-cloudcraft)',
  });
  const parameter = (name: MemberParameter, description: string, pattern?: string) => new CfnParameter(stack, name, {
    type: 'String', description, ...(pattern ? { allowedPattern: pattern } : {}),
  }).valueAsString;
  const secretArn = parameter('SharedSecretArn', 'ARN of the shared secret that holds the Cloudcraft API key', '^arn:aws[\\w-]*:secretsmanager:.+$');
  const keyArn = parameter('SharedSecretKmsKeyArn', 'ARN of the KMS key that encrypts the shared secret', '^arn:aws[\\w-]*:kms:.+$');
  const externalId = parameter('ExternalId', 'External ID of the Cloudcraft user who owns the API key', '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$');
  const cloudcraftAccountId = parameter('CloudcraftAccountId', 'AWS account Cloudcraft assumes roles from', '^\\d{12}$');
  const homeRegion = parameter('HomeRegion', 'The one region where the account-wide resources are created', '^[a-z]{2}(-gov)?-[a-z]+-\\d+$');
  acknowledge(stack, [{
    id: 'CloudFormation-Validate::W2509',
    reason: 'SharedSecretArn and SharedSecretKmsKeyArn hold ARNs, not secret values: NoEcho would only hide them from operators.',
  }]);
  const secret = secretsmanager.Secret.fromSecretAttributes(stack, 'ApiKeySecret', {
    secretCompleteArn: secretArn,
    encryptionKey: kms.Key.fromKeyArn(stack, 'ApiKeyKmsKey', keyArn),
  });
  new CloudcraftMemberIntegration(stack, 'Cloudcraft', {
    ...options,
    apiKey: CloudcraftApiKey.fromSecret(secret),
    externalId,
    cloudcraftAccountId,
    homeRegion,
  });
  return stack;
}

