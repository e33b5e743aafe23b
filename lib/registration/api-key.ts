import { Annotations, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ssm from 'aws-cdk-lib/aws-ssm';

/**
 * Options for `CloudcraftApiKey.fromSecret()`.
 */
export interface SecretApiKeyOptions {
  /**
   * The JSON field of the secret that holds the key, for a secret stored as JSON.
   *
   * @default - the whole secret string is the key
   */
  readonly jsonField?: string;
}

/** @internal */
export interface ApiKeyBinding {
  readonly source: 'secretsmanager' | 'ssm';
  readonly id: string;
  readonly field?: string;
}

/**
 * Where the Cloudcraft API key is stored. The key is only ever referenced: the handler reads it at run time,
 * so it never appears in the template, the custom-resource properties, CloudFormation events or logs.
 *
 * The key must belong to an Owner or Administrator of the Cloudcraft team, be read-write, and the team must have
 * a Pro (or higher) subscription.
 */
export abstract class CloudcraftApiKey {
  /**
   * A Secrets Manager secret. The handler may read that secret only (and use its KMS key to decrypt it, for a
   * secret encrypted with a customer managed key: import such a secret with its `encryptionKey`).
   */
  public static fromSecret(secret: secretsmanager.ISecret, options: SecretApiKeyOptions = {}): CloudcraftApiKey {
    if (options.jsonField !== undefined && options.jsonField.trim() === '') {
      throw new Error('CloudcraftApiKey.fromSecret: jsonField "" is empty. Give the JSON field that holds the key, or leave jsonField out.');
    }
    return new SecretApiKey(secret, options.jsonField);
  }

  /**
   * An SSM SecureString parameter, for example
   * `ssm.StringParameter.fromSecureStringParameterAttributes(this, 'Key', { parameterName: '/cloudcraft/api-key' })`
   * (give `encryptionKey` there if it is encrypted with a customer managed KMS key).
   */
  public static fromSecureStringParameter(parameter: ssm.IParameter): CloudcraftApiKey {
    return new ParameterApiKey(parameter);
  }

  protected constructor() {}

  /**
   * Grants `grantee` the right to read the key and returns the reference the handler receives.
   * @internal
   */
  public abstract _bind(grantee: iam.IGrantable): ApiKeyBinding;
}

class SecretApiKey extends CloudcraftApiKey {
  constructor(private readonly secret: secretsmanager.ISecret, private readonly field?: string) {
    super();
  }

  public _bind(grantee: iam.IGrantable): ApiKeyBinding {
    warnIfWrittenInTemplate(this.secret);
    this.secret.grantRead(grantee);
    if (this.secret.encryptionKey) {
      // Secret.grantRead only asks the key's resource policy for an imported key, which CDK cannot change: grant
      // kms:Decrypt on the principal side too, through Secrets Manager only.
      grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: [this.secret.encryptionKey.keyArn],
        conditions: { StringLike: { 'kms:ViaService': 'secretsmanager.*.amazonaws.com' } },
      }));
    }
    return { source: 'secretsmanager', id: this.secret.secretFullArn ?? this.secret.secretArn, ...(this.field ? { field: this.field } : {}) };
  }
}

class ParameterApiKey extends CloudcraftApiKey {
  constructor(private readonly parameter: ssm.IParameter) {
    super();
  }

  public _bind(grantee: iam.IGrantable): ApiKeyBinding {
    this.parameter.grantRead(grantee);
    return { source: 'ssm', id: this.parameter.parameterArn };
  }
}

/**
 * A secret created in this app with its value given as plain text (`SecretValue.unsafePlainText`, or a string
 * that is not a dynamic reference) puts the key in the template, where anyone who can read the stack sees it.
 */
function warnIfWrittenInTemplate(secret: secretsmanager.ISecret): void {
  const cfn = secret.node.defaultChild;
  if (!(cfn instanceof secretsmanager.CfnSecret)) return;
  const value = cfn.secretString === undefined ? undefined : Stack.of(cfn).resolve(cfn.secretString);
  const text = typeof value === 'string' ? value : value === undefined ? undefined : JSON.stringify(value);
  if (text === undefined || text.includes('{{resolve:') || (typeof value === 'string' && Token.isUnresolved(value))) return;
  Annotations.of(secret).addWarningV2('cdk-cloudcraft:apiKeyInTemplate',
    'The Cloudcraft API key is written into the template (the secret\'s value is plain text, for example SecretValue.unsafePlainText): '
    + 'anyone who can read the stack or its template sees it. Create the secret outside the app (aws secretsmanager create-secret) '
    + 'and import it with Secret.fromSecretNameV2, or let Secrets Manager generate it and put the key in afterwards.');
}
