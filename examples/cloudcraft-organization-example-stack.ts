import { Stack, StackProps } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { CloudcraftAccess, CloudcraftApiKey, CloudcraftDiagrams, CloudcraftDiagramSource, CloudcraftOrganizationIntegration } from '../lib';

export interface CloudcraftOrganizationExampleStackProps extends StackProps {
  /** The OUs (or the root) to connect. */
  readonly organizationalUnitIds: string[];
  /** Deployed in a StackSets delegated administrator account rather than the management account. @default false */
  readonly delegatedAdmin?: boolean;
  /** Name of the secret in this account that holds the Cloudcraft API key. @default 'cloudcraft/api-key' */
  readonly apiKeySecretName?: string;
}

/**
 * Connects every account of the given OUs to Cloudcraft from the management account (or a StackSets delegated
 * administrator): a service-managed StackSet gives each account the Cloudcraft role, and one registrar in this
 * account registers them. Deploy it in the region the member stacks should use:
 *
 *   aws secretsmanager create-secret --name cloudcraft/api-key --secret-string '<your Cloudcraft API key>'
 *   cdk deploy CloudcraftOrganizationExampleStack -c organizationalUnitIds=r-...
 */
export class CloudcraftOrganizationExampleStack extends Stack {
  constructor(scope: Construct, id: string, props: CloudcraftOrganizationExampleStackProps) {
    super(scope, id, props);
    const organization = new CloudcraftOrganizationIntegration(this, 'Cloudcraft', {
      apiKey: CloudcraftApiKey.fromSecret(secretsmanager.Secret.fromSecretNameV2(this, 'ApiKeySecret', props.apiKeySecretName ?? 'cloudcraft/api-key')),
      organizationalUnitIds: props.organizationalUnitIds,
      delegatedAdmin: props.delegatedAdmin,
      access: CloudcraftAccess.minimal(),
    });
    // Every registered account's diagram of this region, kept in S3 every day; changes announced on the default bus.
    new CloudcraftDiagrams(this, 'Diagrams', { source: CloudcraftDiagramSource.fromOrganization(organization), regions: [this.region] });
  }
}
