/**
 * A DynamoDB table of JSON items with a version, for compare-and-swap: the Organization registrar's ledger and the
 * diagram work's state (and the key's pacing record, which both use). Each item is `pk` (the key), `data` (JSON text)
 * and `v` (its version). Thin I/O through the AWS SDK v3 of the Lambda runtime (loaded on first use, with require()
 * so that it is found through NODE_PATH), which honours AWS_ENDPOINT_URL_DYNAMODB.
 */
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PacerState } from './pacer';
import { PacingStore } from './pacing';

/** An item, with its version (for compare-and-swap). */
export interface StoredItem {
  readonly pk: string;
  readonly data: unknown;
  readonly version: number;
}

export interface ItemTables {
  /** Every item of the table (strongly consistent). */
  scan(table: string): Promise<StoredItem[]>;
  /** One item (strongly consistent); undefined when there is none. */
  get(table: string, pk: string): Promise<StoredItem | undefined>;
  /**
   * Writes an item. With `expected`, only while its version is still that one (0: no item, or one without a
   * version), and then as version `expected + 1`: false when someone else wrote first.
   */
  put(table: string, pk: string, data: unknown, expected?: number): Promise<boolean>;
  remove(table: string, pk: string): Promise<void>;
}

/** The key of the record of the API key's pacing, in whichever table holds it. */
export const PACER_ITEM = 'meta#pacer';

/** The key's pacing record in `table`: every caller of the key in this installation reads and writes this one. */
export function pacingStoreIn(tables: Pick<ItemTables, 'get' | 'put'>, table: string): PacingStore {
  return {
    read: async () => {
      const item = await tables.get(table, PACER_ITEM);
      return { state: item?.data as PacerState | undefined, version: item?.version };
    },
    write: (state, version) => tables.put(table, PACER_ITEM, state, version ?? 0),
  };
}

type Item = Record<string, AttributeValue>;

function toStored(item: Item | undefined): StoredItem | undefined {
  const pk = item?.pk?.S;
  const data = item?.data?.S;
  if (!pk || data === undefined) return undefined;
  try {
    return { pk, data: JSON.parse(data), version: Number(item?.v?.N ?? 0) || 0 };
  } catch {
    // An item written by hand or by another tool: not ours.
    return undefined;
  }
}

/* eslint-disable @typescript-eslint/no-require-imports */
export function sdkItemTables(): ItemTables {
  let client: DynamoDBClient | undefined;
  const ddb = () => {
    const sdk = require('@aws-sdk/client-dynamodb') as typeof import('@aws-sdk/client-dynamodb');
    client ??= new sdk.DynamoDBClient({ maxAttempts: 8 });
    return { sdk, client };
  };
  return {
    async scan(table) {
      const { sdk, client: c } = ddb();
      const items: StoredItem[] = [];
      for await (const page of sdk.paginateScan({ client: c }, { TableName: table, ConsistentRead: true })) {
        for (const item of page.Items ?? []) {
          const stored = toStored(item);
          if (stored) items.push(stored);
        }
      }
      return items;
    },

    async get(table, pk) {
      const { sdk, client: c } = ddb();
      const out = await c.send(new sdk.GetItemCommand({ TableName: table, Key: { pk: { S: pk } }, ConsistentRead: true }));
      return toStored(out.Item);
    },

    async put(table, pk, data, expected) {
      const { sdk, client: c } = ddb();
      const version = expected === undefined ? 0 : expected + 1;
      const text = JSON.stringify(data);
      try {
        await c.send(new sdk.PutItemCommand({
          TableName: table,
          Item: { pk: { S: pk }, data: { S: text }, v: { N: String(version) } },
          // Version 0 is an item that is not there (or was written without a version).
          ...(expected === undefined ? {} : {
            ConditionExpression: expected === 0 ? 'attribute_not_exists(v) OR v = :expected' : 'v = :expected',
            ExpressionAttributeValues: { ':expected': { N: String(expected) } },
          }),
        }));
        return true;
      } catch (err) {
        if ((err as { name?: string }).name !== 'ConditionalCheckFailedException') throw err;
        // The SDK may have retried a write that succeeded but whose answer was lost: its retry then fails the
        // condition. The item as this write made it is this write's success.
        const out = await c.send(new sdk.GetItemCommand({ TableName: table, Key: { pk: { S: pk } }, ConsistentRead: true }));
        return out.Item?.data?.S === text && out.Item?.v?.N === String(version);
      }
    },

    async remove(table, pk) {
      const { sdk, client: c } = ddb();
      await c.send(new sdk.DeleteItemCommand({ TableName: table, Key: { pk: { S: pk } } }));
    },
  };
}
