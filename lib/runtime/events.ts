/**
 * The library's EventBridge events: one source for all of them, and one way to put one on the account's default bus
 * (the AWS SDK v3 of the Lambda runtime, loaded on first use; AWS_ENDPOINT_URL_EVENTBRIDGE points it at a stand-in).
 */

/** The `source` of every event the library puts. */
export const EVENT_SOURCE = 'cdk-cloudcraft';
/** The detail-type of the event the daily check of Cloudcraft's minimal policy puts when it changed (policy-check.ts). */
export const POLICY_CHANGED = 'Cloudcraft Policy Changed';

/** Puts one event on the default bus; throws when EventBridge did not take it. */
export type PutEvent = (detailType: string, detail: Record<string, unknown>) => Promise<void>;

/* eslint-disable @typescript-eslint/no-require-imports */
export function sdkPutEvent(): PutEvent {
  let client: import('@aws-sdk/client-eventbridge').EventBridgeClient | undefined;
  return async (detailType, detail) => {
    const sdk = require('@aws-sdk/client-eventbridge') as typeof import('@aws-sdk/client-eventbridge');
    client ??= new sdk.EventBridgeClient({ maxAttempts: 5, requestHandler: { requestTimeout: 30_000, connectionTimeout: 5_000 } });
    // The account's default bus (no EventBusName). PutEvents answers 200 with FailedEntryCount for entries it did
    // not put (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html): that is a failure too.
    const out = await client.send(new sdk.PutEventsCommand({
      Entries: [{ Source: EVENT_SOURCE, DetailType: detailType, Detail: JSON.stringify(detail) }],
    }));
    if ((out.FailedEntryCount ?? 0) > 0) {
      const entry = out.Entries?.[0];
      throw new Error(`EventBridge did not put the event: ${entry?.ErrorCode ?? 'unknown'} ${entry?.ErrorMessage ?? ''}`.trim());
    }
  };
}
