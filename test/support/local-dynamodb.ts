/**
 * The real DynamoDB engine for tests: dynalite (in memory, tables ACTIVE at once) on 127.0.0.1 port 0, speaking
 * DynamoDB's AWS JSON 1.0 protocol to the real @aws-sdk/client-dynamodb. The registrar keeps its ledger there
 * (a PAY_PER_REQUEST table keyed by the string `pk`).
 */
import * as http from 'http';
import { createRequire } from 'module';
import { AddressInfo } from 'net';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';

interface DynaliteOptions {
  readonly createTableMs?: number;
  readonly deleteTableMs?: number;
  readonly updateTableMs?: number;
}

// dynalite ships no type declarations: load it through Node's require with the one signature used here.
const dynalite = createRequire(__filename)('dynalite') as (options: DynaliteOptions) => http.Server;

export interface LocalDynamo {
  readonly url: string;
  stop(): Promise<void>;
}

export async function startDynalite(): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let stopped: Promise<void> | undefined;
  return {
    url,
    stop: () => stopped ??= new Promise<void>((resolve, reject) => {
      server.closeAllConnections(); // the SDK keeps sockets alive
      server.close(err => (err ? reject(err) : resolve()));
    }),
  };
}

/** A client for the local endpoint (fake static credentials, no retries). */
export function localDynamoClient(url: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint: url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
}

/** Creates the ledger table (PAY_PER_REQUEST, string hash key `pk`) and returns once it is ACTIVE. */
export async function createLedgerTable(url: string, tableName: string): Promise<void> {
  const client = localDynamoClient(url);
  try {
    await client.send(new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    }));
    // With createTableMs 0 the table turns ACTIVE on dynalite's next timer tick: each round trip lets it run.
    for (let attempt = 0; attempt < 100; attempt++) {
      const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
      if (Table?.TableStatus === 'ACTIVE') return;
    }
    throw new Error(`table ${tableName} did not become ACTIVE`);
  } finally {
    client.destroy();
  }
}
