/**
 * Reads the Cloudcraft API key at run time, from Secrets Manager or an SSM SecureString parameter, through the
 * AWS SDK v3 that the Lambda runtime provides. The SDK honours AWS_ENDPOINT_URL_SECRETS_MANAGER and
 * AWS_ENDPOINT_URL_SSM, which tests point at local endpoints. The key is returned, never logged. Only the client
 * of the key's store is loaded, on first use: loading an SDK client costs tens of milliseconds. require(), not
 * import(): the runtime's SDK is found through NODE_PATH, which ES module resolution does not read.
 */
import { ApiKeyRef } from './properties';

export class ApiKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ApiKeyError';
  }
}

/** Where the key lives, for messages: the secret ARN or parameter name, never the value. */
export function describeKeySource(ref: ApiKeyRef): string {
  const where = ref.source === 'ssm' ? `SSM parameter ${ref.id}` : `secret ${ref.id}`;
  return ref.field ? `${where} (JSON field "${ref.field}")` : where;
}

/** The region of an ARN (the secret or parameter may live in another region than the function). */
function regionOf(id: string): string | undefined {
  const parts = id.split(':');
  return id.startsWith('arn:') && parts.length > 4 && parts[3] ? parts[3] : undefined;
}

export async function readApiKey(ref: ApiKeyRef, signal: AbortSignal): Promise<string> {
  const where = describeKeySource(ref);
  let value: string | undefined;
  try {
    if (ref.source === 'ssm') {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { GetParameterCommand, SSMClient } = require('@aws-sdk/client-ssm') as typeof import('@aws-sdk/client-ssm');
      const client = new SSMClient({ region: regionOf(ref.id), maxAttempts: 3 });
      const out = await client.send(new GetParameterCommand({ Name: ref.id, WithDecryption: true }), { abortSignal: signal });
      value = out.Parameter?.Value;
    } else {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { GetSecretValueCommand, SecretsManagerClient } = require('@aws-sdk/client-secrets-manager') as typeof import('@aws-sdk/client-secrets-manager');
      const client = new SecretsManagerClient({ region: regionOf(ref.id), maxAttempts: 3 });
      const out = await client.send(new GetSecretValueCommand({ SecretId: ref.id }), { abortSignal: signal });
      value = out.SecretString;
    }
  } catch (err) {
    const e = err as { name?: string; message?: string };
    const hint = e.name === 'AccessDeniedException' || e.name === 'AccessDenied'
      ? ' The function\'s role (or the key policy of a customer managed KMS key) does not allow reading it.'
      : '';
    throw new ApiKeyError(`Cannot read the Cloudcraft API key from ${where}: ${e.name ?? 'Error'}.${hint}`);
  }
  if (ref.field) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value ?? '');
    } catch {
      throw new ApiKeyError(`The Cloudcraft API key in ${where} is not JSON, so field "${ref.field}" cannot be read. Store {"${ref.field}": "<key>"} or leave the field out.`);
    }
    const field = (parsed as Record<string, unknown>)?.[ref.field];
    value = typeof field === 'string' ? field : undefined;
  }
  const key = value?.trim();
  if (!key) throw new ApiKeyError(`The Cloudcraft API key in ${where} is empty.`);
  return key;
}
