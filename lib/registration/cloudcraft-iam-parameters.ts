import { CustomResource } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { CloudcraftApiOptions } from './cloudcraft-registration';
import { DEFAULT_API_URL, IAM_PARAMETERS_TYPE } from './handler/properties';
import { CloudcraftHandler, SERVICE_TIMEOUT } from './handler-function';
import { validateApiUrl } from '../private/validate';

/**
 * Properties of `CloudcraftIamParameters`.
 */
export interface CloudcraftIamParametersProps extends CloudcraftApiOptions {}

/**
 * Reads, at deploy time, the external ID of the user who owns the API key and the AWS account Cloudcraft assumes
 * roles from (GET /aws/account/iamParameters), for use in a trust policy.
 */
export class CloudcraftIamParameters extends Construct {
  /** The external ID of the user who owns the API key. */
  public readonly externalId: string;
  /** The AWS account ID Cloudcraft assumes roles from. */
  public readonly cloudcraftAccountId: string;

  constructor(scope: Construct, id: string, props: CloudcraftIamParametersProps) {
    super(scope, id);
    const apiUrl = props.apiUrl ?? DEFAULT_API_URL;
    validateApiUrl(this, apiUrl);
    const handler = CloudcraftHandler.of(this);
    const key = props.apiKey._bind(handler.role);
    const resource = new CustomResource(this, 'Resource', {
      serviceToken: handler.function.functionArn,
      resourceType: IAM_PARAMETERS_TYPE,
      serviceTimeout: SERVICE_TIMEOUT,
      properties: { SchemaVersion: '1', ApiUrl: apiUrl, ApiKeySource: key.source, ApiKeyId: key.id, ApiKeyField: key.field },
    });
    resource.node.addDependency(handler);
    this.externalId = resource.getAttString('ExternalId');
    this.cloudcraftAccountId = resource.getAttString('AccountId');
  }
}
