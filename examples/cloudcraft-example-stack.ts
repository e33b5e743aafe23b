import { CfnOutput, CfnParameter, Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { CloudcraftAccess, CloudcraftRole } from '../lib';

export interface CloudcraftExampleStackProps extends StackProps {
  /**
   * What the Cloudcraft role may read.
   * @default CloudcraftAccess.readOnlyAccess()
   */
  readonly access?: CloudcraftAccess;
}

/**
 * Deploys the IAM role Cloudcraft assumes. Give the external ID shown in Cloudcraft's "Add AWS account" dialog:
 *
 *   cdk deploy --parameters ExternalId=<your external ID>
 *
 * then paste the RoleArn output into the same dialog.
 */
export class CloudcraftExampleStack extends Stack {
  constructor(scope: Construct, id: string, props: CloudcraftExampleStackProps = {}) {
    super(scope, id, props);

    const externalId = new CfnParameter(this, 'ExternalId', {
      type: 'String',
      description: 'External ID of the Cloudcraft user who owns the API key (Cloudcraft: Add AWS account)',
      allowedPattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
      constraintDescription: 'must be the lowercase UUID that Cloudcraft shows as External ID',
    });

    const cloudcraft = new CloudcraftRole(this, 'Cloudcraft', {
      externalId: externalId.valueAsString,
      access: props.access,
    });

    new CfnOutput(this, 'RoleArn', {
      value: cloudcraft.roleArn,
      description: 'Role ARN to paste into Cloudcraft (Add AWS account)',
    });
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
