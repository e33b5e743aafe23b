/**
 * The Cloudcraft API key: read at run time from Secrets Manager or an SSM SecureString parameter (the reader is
 * injected; `sdkSecretReader` uses the AWS SDK v3 of the Lambda runtime, which honours AWS_ENDPOINT_URL_*), then
 * checked before it is ever put in a header. The key and the raw secret are given to the redactor first.
 */
import { CloudcraftError } from './cloudcraft';
import { Redactor } from './redact';

export interface ApiKeyRef {
  /** Where the key is stored. */
  readonly source: 'secretsmanager' | 'ssm';
  /** Secret ARN, or parameter name or ARN. */
  readonly id: string;
  /** JSON field of the secret that holds the key; the whole value when absent. */
  readonly field?: string;
}

/** Reads the raw stored value. Rejects with an error whose `name` is the AWS error code. */
export type SecretReader = (ref: ApiKeyRef, signal?: AbortSignal) => Promise<string | undefined>;

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

/**
 * Reads with the AWS SDK v3. Only the client of the key's store is loaded, on first use (loading a client costs
 * tens of milliseconds). require(), not import(): the runtime's SDK is found through NODE_PATH, which ES module
 * resolution does not read.
 */
export const sdkSecretReader: SecretReader = async (ref, signal) => {
  if (ref.source === 'ssm') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { GetParameterCommand, SSMClient } = require('@aws-sdk/client-ssm') as typeof import('@aws-sdk/client-ssm');
    const client = new SSMClient({ region: regionOf(ref.id), maxAttempts: 3 });
    const out = await client.send(new GetParameterCommand({ Name: ref.id, WithDecryption: true }), { abortSignal: signal });
    return out.Parameter?.Value;
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { GetSecretValueCommand, SecretsManagerClient } = require('@aws-sdk/client-secrets-manager') as typeof import('@aws-sdk/client-secrets-manager');
  const client = new SecretsManagerClient({ region: regionOf(ref.id), maxAttempts: 3 });
  const out = await client.send(new GetSecretValueCommand({ SecretId: ref.id }), { abortSignal: signal });
  return out.SecretString;
};

/** Cloudcraft keys are 44 characters (base64 of 32 bytes); the Go SDK refuses others. Other lengths are only logged. */
export const EXPECTED_KEY_LENGTH = 44;

/**
 * The key in a stored value: the whole value, or its JSON field. Refuses what cannot be a key (a JSON document read
 * without its field, a line break, spaces or other characters no HTTP header may carry) with a reason that names the
 * store and never quotes the value. Pure.
 */
export function extractApiKey(raw: string | undefined, ref: ApiKeyRef): string {
  const where = describeKeySource(ref);
  let value = raw;
  if (ref.field) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value ?? '');
    } catch {
      throw new CloudcraftError(`The value of ${where} is not JSON, so field "${ref.field}" cannot be read. Store {"${ref.field}": "<key>"}, or leave jsonField out to use the whole value.`);
    }
    const field = (parsed as Record<string, unknown> | null)?.[ref.field];
    if (typeof field !== 'string') {
      throw new CloudcraftError(`${where} has no string field "${ref.field}". Store {"${ref.field}": "<key>"}, or give the jsonField that holds the key.`);
    }
    value = field;
  }
  const key = value?.trim();
  if (!key) throw new CloudcraftError(`The Cloudcraft API key in ${where} is empty. Store the key (Cloudcraft: User > API keys) there.`);
  if (!ref.field && key.startsWith('{')) {
    throw new CloudcraftError(`The value of ${where} is a JSON document, not a key. Give jsonField (the field that holds the key), or store the key alone as plain text.`);
  }
  if (/\s/.test(key)) {
    throw new CloudcraftError(`The Cloudcraft API key in ${where} contains a line break or a space. Store the key alone, on one line, with nothing else.`);
  }
  if (!/^[\x21-\x7e]+$/.test(key)) {
    throw new CloudcraftError(`The Cloudcraft API key in ${where} contains characters an HTTP header cannot carry. Store the key exactly as Cloudcraft shows it.`);
  }
  return key;
}

/** Reads, redacts and checks the key. Throws a CloudcraftError. */
export async function readApiKey(ref: ApiKeyRef, reader: SecretReader, redactor: Redactor, signal?: AbortSignal): Promise<string> {
  const where = describeKeySource(ref);
  let raw: string | undefined;
  try {
    raw = await reader(ref, signal);
  } catch (err) {
    const name = (err as { name?: string }).name ?? 'Error';
    const hint = name === 'AccessDeniedException' || name === 'AccessDenied'
      ? ' The function\'s role (or the key policy of a customer managed KMS key) does not allow reading it.'
      : name === 'ResourceNotFoundException' || name === 'ParameterNotFound' ? ' It does not exist: create it, or give the right one.' : '';
    throw new CloudcraftError(`Cannot read the Cloudcraft API key from ${where}: ${name}.${hint}`);
  }
  redactor.add(raw);
  const key = extractApiKey(raw, ref);
  redactor.add(key);
  return key;
}
