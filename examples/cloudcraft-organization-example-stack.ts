import { CfnOutput, Stack, StackProps } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { CloudcraftAccountNaming, CloudcraftCallAs, CloudcraftOrganizationIntegration } from '../lib';

export interface CloudcraftOrganizationExampleStackProps extends StackProps {
  /** The Organization's ID. */
  readonly organizationId: string;
  /** The OUs (or the root) to connect. */
  readonly organizationalUnitIds: string[];
  /** SELF in the management account, DELEGATED_ADMIN in a delegated administrator. @default SELF */
  readonly callAs?: CloudcraftCallAs;
  /** Name of the secret in this account that holds the Cloudcraft API key. @default 'cloudcraft/api-key' */
  readonly apiKeySecretName?: string;
}

/**
 * Connects every account of the given OUs to Cloudcraft from the management account (or a delegated
 * administrator), through a service-managed StackSet. Deploy it in the region the member stacks should use:
 *
 *   aws secretsmanager create-secret --name cloudcraft/api-key --secret-string '<your Cloudcraft API key>'
 *   cdk deploy CloudcraftOrganizationExampleStack -c organizationId=o-... -c organizationalUnitIds=r-...
 */
export class CloudcraftOrganizationExampleStack extends Stack {
  constructor(scope: Construct, id: string, props: CloudcraftOrganizationExampleStackProps) {
    super(scope, id, props);
    const organization = new CloudcraftOrganizationIntegration(this, 'Cloudcraft', {
      apiKeySecret: secretsmanager.Secret.fromSecretNameV2(this, 'ApiKeySecret', props.apiKeySecretName ?? 'cloudcraft/api-key'),
      organizationId: props.organizationId,
      organizationalUnitIds: props.organizationalUnitIds,
      callAs: props.callAs ?? CloudcraftCallAs.SELF,
      accountNaming: CloudcraftAccountNaming.fromPattern('{alias}'),
    });
    new CfnOutput(this, 'StackSetName', { value: organization.stackSet.attrStackSetId, description: 'The StackSet that connects member accounts' });
    new CfnOutput(this, 'MemberTemplateBytes', { value: String(organization.memberTemplateBytes), description: 'Size of the member template' });
  }
}
