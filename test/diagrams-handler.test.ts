/**
 * The diagram work's function as Lambda runs it (createDiagramsHandler, lib/diagrams/worker/index.ts) with its real
 * AWS I/O: the AWS SDK v3 against dynalite (its state table, and the Organization registrar's ledger), a local S3 and
 * a local EventBridge, through AWS_ENDPOINT_URL_*; Cloudcraft is the emulator; time is virtual (the I/O is tracked).
 */
import { CloudcraftEmulator, IN_PROCESS_URL } from './support/cloudcraft-emulator';
import { createLedgerTable, LocalDynamo, startDynalite } from './support/local-dynamodb';
import { LocalEventBridge, LocalS3 } from './support/local-s3-events';
import { VirtualClock } from './support/virtual-clock';
import { sdkDiagramIo } from '../lib/diagrams/worker/aws';
import { DIAGRAM_CHANGED, DiagramsEnvironment } from '../lib/diagrams/worker/contract';
import { createDiagramsHandler } from '../lib/diagrams/worker/index';
import { ItemTables, PACER_ITEM, sdkItemTables } from '../lib/runtime/items';

const KEY = 'Kx9'.padEnd(44, 'q');
const EXTERNAL_ID = '0b3c2c4e-1111-4222-8333-944455556666';
const ACCOUNTS = ['111122223333', '444455556666'];
let dynamo: LocalDynamo;
let s3: LocalS3;
let eventBridge: LocalEventBridge;
const saved = { ...process.env };
let tableSeq = 0;

beforeAll(async () => {
  dynamo = await startDynalite();
  s3 = await new LocalS3().start();
  eventBridge = await new LocalEventBridge().start();
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.url,
    AWS_ENDPOINT_URL_S3: s3.url,
    AWS_ENDPOINT_URL_EVENTBRIDGE: eventBridge.url,
    AWS_ACCESS_KEY_ID: 'AKIDLOCAL',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_REGION: 'eu-west-1',
  });
});

afterAll(async () => {
  await Promise.all([dynamo.stop(), s3.stop(), eventBridge.stop()]);
  process.env = saved;
});

async function world(kind: 'registrations' | 'organization') {
  const n = ++tableSeq;
  const state = `state-${n}`;
  const ledger = `ledger-${n}`;
  await createLedgerTable(dynamo.url, state);
  if (kind === 'organization') await createLedgerTable(dynamo.url, ledger);
  const clock = new VirtualClock();
  const emulator = new CloudcraftEmulator({ clock, users: [{ key: KEY, externalId: EXTERNAL_ID }] });
  const registrations = ACCOUNTS.map(id => emulator.seedAccount({ roleArn: `arn:aws:iam::${id}:role/cloudcraft`, name: id }));
  for (const id of ACCOUNTS) emulator.inventories.set(`${id}/eu-west-1`, [{ id: `i-${id}`, type: 'ec2' }]);
  const tables: ItemTables = clock.trackAll(sdkItemTables());
  if (kind === 'organization') {
    // The registrar's ledger as it writes it: one registered account, one whose POST is not confirmed yet.
    await tables.put(ledger, `account#${ACCOUNTS[0]}`, { accountId: ACCOUNTS[0], roleArn: registrations[0].roleArn, state: 'registered', cloudcraftId: registrations[0].id });
    await tables.put(ledger, `account#${ACCOUNTS[1]}`, { accountId: ACCOUNTS[1], roleArn: registrations[1].roleArn, state: 'posting' });
  }
  const bucket = `diagrams-${n}`;
  const environment: DiagramsEnvironment = {
    apiUrl: IN_PROCESS_URL,
    apiKey: { source: 'secretsmanager', id: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:cloudcraft-AbCdEf' },
    stateTable: state,
    pacingTable: kind === 'organization' ? ledger : state,
    accounts: kind === 'organization' ? { ledgerTable: ledger } : { registrations: ACCOUNTS.map((accountId, i) => ({ accountId, registrationId: registrations[i].id })) },
    bucket,
    prefix: 'cloudcraft-diagrams/',
    regions: ['eu-west-1'],
    formats: ['png', 'svg'],
    query: 'theme=dark',
    concurrency: 4,
    reservePerMinute: 5,
    metricsNamespace: 'cdk-cloudcraft',
    metricsDimension: state,
  };
  const lines: string[] = [];
  const handler = createDiagramsHandler({
    clock,
    transport: emulator.transport(),
    tables,
    io: clock.trackAll(sdkDiagramIo(tables, state, bucket)),
    readSecret: async () => KEY,
    sink: line => lines.push(line),
    random: () => 0.5,
    environment,
  });
  const context = { awsRequestId: 'req', getRemainingTimeInMillis: () => 15 * 60_000 };
  const invoke = (event: unknown) => clock.run(() => handler(event, context));
  return { clock, emulator, tables, invoke, lines, bucket, ledger, state, registrations };
}

test('a round writes each diagram to S3 with its metadata, tags only the dated copies, and a change puts one event on the bus', async () => {
  const w = await world('registrations');
  expect(await w.invoke({ kind: 'schedule' })).toMatchObject({ targets: 2, snapshots: 2, images: 4, finished: true });
  const latest = s3.objects.get(`${w.bucket}/cloudcraft-diagrams/${ACCOUNTS[0]}/eu-west-1/latest.png`)!;
  expect(latest.body.subarray(1, 4).toString('ascii')).toBe('PNG');
  expect(latest.contentType).toBe('image/png');
  expect(latest.metadata).toMatchObject({ 'account-id': ACCOUNTS[0], 'region': 'eu-west-1', 'registration-id': w.registrations[0].id });
  expect(latest.tags).toEqual({});
  expect(s3.objects.get(`${w.bucket}/cloudcraft-diagrams/index.html`)?.contentType).toBe('text/html; charset=utf-8');
  const dated = [...s3.objects.entries()].filter(([k]) => k.startsWith(`${w.bucket}/`) && !k.includes('/latest.') && !k.endsWith('/index.html'));
  expect(dated).toHaveLength(6);
  for (const [, object] of dated) expect(object.tags).toEqual({ 'cdk-cloudcraft-copy': 'dated' });
  // The key's pacing record is in the state table (no registrar here).
  expect((await w.tables.get(w.state, PACER_ITEM))?.data).toMatchObject({ sent: expect.any(Array) });

  await w.clock.advance(86_400_000);
  w.emulator.inventories.set(`${ACCOUNTS[1]}/eu-west-1`, [{ id: `i-${ACCOUNTS[1]}`, type: 'ec2' }, { id: 'fn-1', type: 'lambda' }]);
  const before = eventBridge.events.length;
  expect(await w.invoke({ kind: 'schedule' })).toMatchObject({ unchanged: 1, changed: 1, announced: 1 });
  const [event] = eventBridge.events.slice(before);
  expect(event).toMatchObject({ Source: 'cdk-cloudcraft', DetailType: DIAGRAM_CHANGED });
  expect(event.EventBusName).toBeUndefined();
  expect(JSON.parse(event.Detail!)).toMatchObject({ accountId: ACCOUNTS[1], region: 'eu-west-1', added: { lambda: 1 }, removed: {} });
  // Not a line carries the key.
  expect(w.lines.join('\n')).not.toContain(KEY.slice(0, 12));
  const metrics = w.lines.map(l => JSON.parse(l)).filter(l => l._aws);
  expect(metrics[metrics.length - 1]).toMatchObject({ StateTable: w.state, DiagramsChanged: 1, DiagramRunStopped: 0 });
  expect(metrics[0]._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'cdk-cloudcraft', Dimensions: [['StateTable']] });
});

test('with the Organization: the accounts the registrar registered, and the one pacing record of the key in its ledger', async () => {
  const w = await world('organization');
  // The registrar sent 15 requests in the last seconds: the diagram work waits until they leave its share's minute.
  const start = w.clock.now();
  const sent = Array.from({ length: 15 }, (_, i) => start - 5_000 + i * 100);
  const pacer = { fastLimit: 20, blockedUntil: 0, lastChange: start - 60_000, probeMs: 240_000, probing: false, sent, accepted: sent, rejected: 0 };
  await w.tables.put(w.ledger, PACER_ITEM, pacer, 0);
  const summary = await w.invoke({ kind: 'schedule' });
  expect(summary).toMatchObject({ targets: 1, snapshots: 1, finished: true });
  const calls = w.emulator.calls.filter(c => /\/eu-west-1\//.test(c.path));
  expect(calls[0].path).toContain(w.registrations[0].id);
  expect(calls.every(c => !c.path.includes(w.registrations[1].id))).toBe(true);
  expect(calls[0].at).toBeGreaterThanOrEqual(sent[0] + 60_000);
  // It wrote its requests into the ledger's record (the registrar counts them), and nothing else of the ledger.
  const after = (await w.tables.get(w.ledger, PACER_ITEM))!.data as { sent: number[] };
  expect(after.sent.filter(t => t >= calls[0].at)).toHaveLength(calls.length);
  expect((await w.tables.scan(w.ledger)).map(i => i.pk).sort()).toEqual([`account#${ACCOUNTS[0]}`, `account#${ACCOUNTS[1]}`, PACER_ITEM]);
});

test('an event that is not one of its rules\' is refused without a call', async () => {
  const w = await world('registrations');
  for (const event of [{}, { kind: 'delete-everything' }, 'schedule', null]) {
    expect(await w.invoke(event)).toEqual({ error: expect.stringContaining('refused, nothing done') });
  }
  expect(w.emulator.calls).toHaveLength(0);
});

test('a change EventBridge does not take is put again by the next tick, without another Cloudcraft call', async () => {
  const w = await world('registrations');
  await w.invoke({ kind: 'schedule' });
  await w.clock.advance(86_400_000);
  w.emulator.inventories.set(`${ACCOUNTS[0]}/eu-west-1`, []);
  eventBridge.failNext = 1;
  const before = eventBridge.events.length;
  expect(await w.invoke({ kind: 'schedule' })).toMatchObject({ changed: 1, announced: 0, failed: 1, finished: false, left: 1 });
  expect(w.lines.some(l => l.includes('"level":"error"') && l.includes('EventBridge did not put the event: InternalFailure'))).toBe(true);
  const calls = w.emulator.calls.length;
  await w.clock.advance(15 * 60_000);
  expect(await w.invoke({ kind: 'tick' })).toMatchObject({ announced: 1, finished: true });
  expect(w.emulator.calls).toHaveLength(calls);
  expect(eventBridge.events.slice(before)).toHaveLength(1);
  expect(JSON.parse(eventBridge.events[eventBridge.events.length - 1].Detail!)).toMatchObject({ accountId: ACCOUNTS[0], removed: { ec2: 1 } });
});
