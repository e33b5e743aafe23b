/**
 * Reads the account's IAM alias, for account names built from `{alias}`, through the AWS SDK v3 of the Lambda
 * runtime (AWS_ENDPOINT_URL_IAM points it at a local endpoint in tests).
 */
import { IAMClient, ListAccountAliasesCommand } from '@aws-sdk/client-iam';

export class AccountAliasError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AccountAliasError';
  }
}

export async function readAccountAlias(signal: AbortSignal): Promise<string | undefined> {
  try {
    const client = new IAMClient({ maxAttempts: 3 });
    const out = await client.send(new ListAccountAliasesCommand({}), { abortSignal: signal });
    return out.AccountAliases?.[0];
  } catch (err) {
    const name = (err as { name?: string }).name ?? 'Error';
    throw new AccountAliasError(`Cannot read the account alias for the Cloudcraft account name (iam:ListAccountAliases): ${name}.`);
  }
}
