/**
 * Reads the Cloudcraft API key at run time, from Secrets Manager or an SSM SecureString parameter, through the
 * AWS SDK v3 that the Lambda runtime provides. The SDK honours AWS_ENDPOINT_URL_SECRETS_MANAGER and
 * AWS_ENDPOINT_URL_SSM, which tests point at local endpoints. The key is returned, never logged.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
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
      const client = new SSMClient({ region: regionOf(ref.id), maxAttempts: 3 });
      const out = await client.send(new GetParameterCommand({ Name: ref.id, WithDecryption: true }), { abortSignal: signal });
      value = out.Parameter?.Value;
    } else {
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
