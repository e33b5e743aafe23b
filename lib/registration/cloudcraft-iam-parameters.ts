import { Construct } from 'constructs';
import { CloudcraftApiOptions } from './cloudcraft-registration';
import { IAM_PARAMETERS_TYPE } from './handler/contract';
import { cloudcraftResource } from './handler-function';

/**
 * Reads, at deploy time, the external ID of the user who owns the API key and the AWS account Cloudcraft assumes
 * roles from (GET /aws/account/iamParameters), for use in a trust policy.
 */
export class CloudcraftIamParameters extends Construct {
  /** The external ID of the user who owns the API key. */
  public readonly externalId: string;
  /** The AWS account ID Cloudcraft assumes roles from. */
  public readonly cloudcraftAwsAccountId: string;

  constructor(scope: Construct, id: string, props: CloudcraftApiOptions) {
    super(scope, id);
    const resource = cloudcraftResource(this, IAM_PARAMETERS_TYPE, props);
    this.externalId = resource.getAttString('ExternalId');
    this.cloudcraftAwsAccountId = resource.getAttString('AccountId');
  }
}
