/**
 * The diagram work's AWS I/O, thin: its state table (runtime/items.ts), S3 (the bucket it writes) and EventBridge
 * (the default bus of its account), through the AWS SDK v3 of the Lambda runtime, loaded on first use with require()
 * (found through NODE_PATH); every client honours AWS_ENDPOINT_URL_*, which tests point at local stand-ins.
 */
import { DiagramIo } from './run';
import { sdkPutEvent } from '../../runtime/events';
import { ItemTables } from '../../runtime/items';

/* eslint-disable @typescript-eslint/no-require-imports */
export function sdkDiagramIo(tables: ItemTables, stateTable: string, bucket: string): DiagramIo {
  let s3: import('@aws-sdk/client-s3').S3Client | undefined;
  const s3Of = () => {
    const sdk = require('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3');
    // A request that hangs ends in 30 s (and is retried), well within the invocation's reserve.
    s3 ??= new sdk.S3Client({ maxAttempts: 5, requestHandler: { requestTimeout: 30_000, connectionTimeout: 5_000 } });
    return { sdk, client: s3 };
  };
  return {
    scan: async prefix => (await tables.scan(stateTable)).filter(item => item.pk.startsWith(prefix)),
    get: pk => tables.get(stateTable, pk),
    put: (pk, data, expected) => tables.put(stateTable, pk, data, expected),

    async putObject(key, body, contentType, metadata, tags) {
      const { sdk, client } = s3Of();
      await client.send(new sdk.PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: typeof body === 'string' ? body : Buffer.from(body),
        ContentType: contentType,
        Metadata: metadata,
        ...(tags ? { Tagging: new URLSearchParams(tags).toString() } : {}),
      }));
    },

    async getObject(key) {
      const { sdk, client } = s3Of();
      try {
        const out = await client.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: key }));
        return await out.Body?.transformToString('utf-8');
      } catch (err) {
        if ((err as { name?: string }).name === 'NoSuchKey') return undefined;
        throw err;
      }
    },

    putEvent: sdkPutEvent(),
  };
}
