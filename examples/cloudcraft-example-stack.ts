import { CfnOutput, CfnParameter, Stack, StackProps } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { CloudcraftAccess, CloudcraftAccountName, CloudcraftApiKey, CloudcraftDiagrams, CloudcraftDiagramSource, CloudcraftIntegration } from '../lib';

export interface CloudcraftExampleStackProps extends StackProps {
  /**
   * What the Cloudcraft role may read.
   * @default CloudcraftAccess.readOnlyAccess()
   */
  readonly access?: CloudcraftAccess;

  /**
   * Name of the Secrets Manager secret that holds the Cloudcraft API key (the whole secret string).
   * @default 'cloudcraft/api-key'
   */
  readonly apiKeySecretName?: string;
}

/**
 * Connects this AWS account to Cloudcraft: creates the role Cloudcraft assumes and registers it with Cloudcraft's
 * API, using the API key stored in Secrets Manager as `cloudcraft/api-key`. The external ID is read from
 * Cloudcraft at deploy time. `cdk destroy` removes the account from Cloudcraft again.
 *
 *   aws secretsmanager create-secret --name cloudcraft/api-key --secret-string '<your Cloudcraft API key>'
 *   cdk deploy [--parameters AccountName=production]
 */
export class CloudcraftExampleStack extends Stack {
  constructor(scope: Construct, id: string, props: CloudcraftExampleStackProps = {}) {
    super(scope, id, props);

    const accountName = new CfnParameter(this, 'AccountName', {
      type: 'String',
      description: 'Name of this AWS account in Cloudcraft',
      default: 'cdk-cloudcraft example',
      minLength: 1,
    });

    const secret = secretsmanager.Secret.fromSecretNameV2(this, 'ApiKeySecret', props.apiKeySecretName ?? 'cloudcraft/api-key');
    const cloudcraft = new CloudcraftIntegration(this, 'Cloudcraft', {
      apiKey: CloudcraftApiKey.fromSecret(secret),
      accountName: CloudcraftAccountName.of(accountName.valueAsString),
      access: props.access,
    });

    // The account's diagram of this region, kept in S3 every day (images only when it changed).
    const diagrams = new CloudcraftDiagrams(this, 'Diagrams', { source: CloudcraftDiagramSource.fromIntegration(cloudcraft), regions: [this.region] });

    new CfnOutput(this, 'LatestDiagram', {
      value: `s3://${diagrams.bucket.bucketName}/${diagrams.prefix}${this.account}/${this.region}/latest.png`,
      description: 'This account\'s latest Cloudcraft diagram (aws s3 cp it; written by the first round, minutes after the deployment)',
    });
    new CfnOutput(this, 'RegistrationId', { value: cloudcraft.registrationId, description: 'ID of this AWS account\'s registration in Cloudcraft' });
    new CfnOutput(this, 'RoleArn', { value: cloudcraft.roleArn, description: 'Role Cloudcraft assumes' });
    new CfnOutput(this, 'ExternalId', { value: cloudcraft.externalId, description: 'External ID in the role\'s trust policy' });
  }
}

/** The access options the example app accepts with `-c access=...`. */
export function accessFromContext(value: string | undefined): CloudcraftAccess {
  switch (value ?? 'read-only') {
    case 'read-only': return CloudcraftAccess.readOnlyAccess();
    case 'diagram-only': return CloudcraftAccess.readOnlyAccess({ denyDataReads: true });
    case 'minimal': return CloudcraftAccess.minimal();
    default: throw new Error(`Unknown access "${value}": use -c access=read-only, diagram-only or minimal`);
  }
}
