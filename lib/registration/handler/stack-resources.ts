/**
 * Lists the resources of the handler's stack (cloudformation:ListStackResources, on that stack only), so that a
 * Delete can tell whether another resource of the stack now holds the registration. Through the AWS SDK v3 of the
 * Lambda runtime (AWS_ENDPOINT_URL_CLOUDFORMATION points it at a local endpoint in tests), loaded on first use.
 * Injected into the handler (`HandlerDeps.readStackResources`), so tests on virtual time give a stub.
 */
import type { StackResource } from './decide';

export async function sdkStackResourcesReader(stackId: string, signal?: AbortSignal): Promise<StackResource[]> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { CloudFormationClient, ListStackResourcesCommand } = require('@aws-sdk/client-cloudformation') as typeof import('@aws-sdk/client-cloudformation');
  const client = new CloudFormationClient({ maxAttempts: 3, requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000 } });
  const resources: StackResource[] = [];
  let token: string | undefined;
  try {
    do {
      const page = await client.send(new ListStackResourcesCommand({ StackName: stackId, NextToken: token }), { abortSignal: signal });
      for (const r of page.StackResourceSummaries ?? []) {
        resources.push({ logicalId: r.LogicalResourceId ?? '', physicalId: r.PhysicalResourceId, type: r.ResourceType ?? '', status: r.ResourceStatus ?? '' });
      }
      token = page.NextToken;
    } while (token);
  } finally {
    client.destroy();
  }
  return resources;
}
