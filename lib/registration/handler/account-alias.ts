/**
 * Reads the account's IAM alias, for account names built from `{alias}`, through the AWS SDK v3 of the Lambda
 * runtime (AWS_ENDPOINT_URL_IAM points it at a local endpoint in tests). The IAM client is loaded on first use:
 * most invocations never need it, and loading an SDK client costs tens of milliseconds. Injected into the handler
 * (`HandlerDeps.readAlias`), so tests give a stub.
 */
import { CloudcraftError } from '../../runtime/cloudcraft';

export async function sdkAliasReader(signal?: AbortSignal): Promise<string | undefined> {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { IAMClient, ListAccountAliasesCommand } = require('@aws-sdk/client-iam') as typeof import('@aws-sdk/client-iam');
    const client = new IAMClient({ maxAttempts: 3 });
    const out = await client.send(new ListAccountAliasesCommand({}), { abortSignal: signal });
    return out.AccountAliases?.[0];
  } catch (err) {
    const name = (err as { name?: string }).name ?? 'Error';
    throw new CloudcraftError(`Cannot read the account alias for the Cloudcraft account name (iam:ListAccountAliases): ${name}.`);
  }
}
