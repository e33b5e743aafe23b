/**
 * The Organization registrar, benchmarked on virtual time: its real code (createRegistrar) against the Cloudcraft
 * emulator in process, with an in-memory Organization, StackSet and ledger (the AWS side is not what is measured
 * here; the tests run it against the real SDK and local stand-ins). Runs follow one another as Lambda would run
 * them (a run that stops at its 15-minute deadline is continued), until every account is registered.
 *
 * Figures: simulated time to register all, accepted calls as a fraction of what the limit allows, 429s as a
 * fraction of calls, duplicates, calls per account, a no-change run's calls, and the time from a new account's
 * stack instance to its registration.
 */
import { createRegistrar, RunSummary } from '../lib/organization/registrar';
import { AwsIo, OrgAccount, StackInstance } from '../lib/organization/registrar/aws';
import { RegistrarConfig } from '../lib/organization/registrar/config';
import { CloudcraftEmulator, IN_PROCESS_URL } from '../test/support/cloudcraft-emulator';
import { VirtualClock } from '../test/support/virtual-clock';

const KEY = 'Q2xvdWRjcmFmdFRlc3RLZXlGb3JUaGVFbXVsYXRvcjA=';
const EXTERNAL_ID = '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';
const ROOT = 'r-ab12';
const MANAGEMENT = '100000000000';

class MemoryOrganization implements AwsIo {
  readonly accounts: OrgAccount[] = [];
  readonly instances: StackInstance[] = [];
  readonly ledger = new Map<string, unknown>();
  async managementAccountId() { return MANAGEMENT; }
  async accountsOf(parentId: string) { return parentId === ROOT ? [...this.accounts] : []; }
  async ousOf() { return []; }
  async describeAccount(id: string) { return this.accounts.find(a => a.id === id) ?? { id, name: 'management', state: 'ACTIVE' }; }
  async stackInstances() { return [...this.instances]; }
  async ledgerRead() { return [...this.ledger.entries()].map(([pk, data]) => ({ pk, data: JSON.parse(JSON.stringify(data)) })); }
  async ledgerWrite(_t: string, pk: string, data: unknown) { this.ledger.set(pk, JSON.parse(JSON.stringify(data))); }
  async ledgerDelete(_t: string, pk: string) { this.ledger.delete(pk); }
  async invokeAsync() { /* the bench runs the continuation itself */ }
}

export interface RegistrarBenchCase {
  readonly accounts: number;
  readonly windowMs: number;
  readonly countRejected: boolean;
}

export interface RegistrarBenchResult extends RegistrarBenchCase {
  readonly reading: string;
  readonly registered: number;
  readonly duplicates: number;
  readonly runs: number;
  readonly simulatedMinutesToRegisterAll: number;
  readonly throughputOfLimit: number;
  readonly rejected429OfCalls: number;
  readonly callsPerAccount: number;
  readonly noChangeRunCalls: number;
  readonly newAccountToRegistrationSeconds: number;
  readonly realSeconds: number;
}

export async function benchRegistrar(c: RegistrarBenchCase): Promise<RegistrarBenchResult> {
  const started = Date.now();
  const clock = new VirtualClock();
  const emulator = new CloudcraftEmulator({
    users: [{ key: KEY, id: 'owner', externalId: EXTERNAL_ID }],
    clock,
    rateLimit: { requests: 20, windowMs: c.windowMs, retryAfter: 'seconds', countRejected: c.countRejected },
  });
  const org = new MemoryOrganization();
  const addAccount = (i: number) => {
    const id = String(200000000000 + i);
    org.accounts.push({ id, name: `account-${i}`, state: 'ACTIVE' });
    org.instances.push({ account: id, region: 'us-east-1', status: 'CURRENT', detailedStatus: 'SUCCEEDED' });
    emulator.addRole(`arn:aws:iam::${id}:role/cloudcraft`, { externalId: EXTERNAL_ID });
    return id;
  };
  for (let i = 0; i < c.accounts; i++) addAccount(i);
  const config: RegistrarConfig = {
    apiUrl: IN_PROCESS_URL,
    apiKey: { source: 'secretsmanager', id: 'arn:aws:secretsmanager:us-east-1:100000000000:secret:k' },
    externalId: EXTERNAL_ID,
    ledgerTable: 'ledger',
    stackSetName: 'cloudcraft-integration',
    callAs: 'SELF',
    homeRegion: 'us-east-1',
    targets: [ROOT],
    role: { partition: 'aws', path: '/', name: 'cloudcraft' },
    naming: { pattern: '{name}', names: {} },
    access: { read: null, write: null },
    graceMs: 86_400_000,
    metricsNamespace: 'cdk-cloudcraft',
  };
  let seed = 42;
  const registrar = createRegistrar({
    clock,
    transport: emulator.transport(),
    io: org,
    readSecret: async () => KEY,
    sink: () => undefined,
    config,
    random: () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31),
  });
  const invoke = (event: unknown): Promise<RunSummary> => {
    const deadline = clock.now() + 15 * 60_000;
    return clock.run(registrar(event, { getRemainingTimeInMillis: () => deadline - clock.now() }));
  };

  // As deployed: the stack's Create has reached the registrar's resource (before it, runs register nothing).
  await org.ledgerWrite(config.ledgerTable, 'meta#deployment', { externalId: EXTERNAL_ID });
  const t0 = clock.now();
  let summary = await invoke({ 'detail-type': 'Scheduled Event' });
  let runs = 1;
  while (!summary.complete && runs < 500) {
    summary = await invoke({ cdkCloudcraft: 'continue', depth: runs });
    runs++;
  }
  const took = clock.now() - t0;
  if (summary.skipped || !summary.complete) throw new Error(`bench: the registrar did not register the accounts (${JSON.stringify(summary)})`);
  const accepted = emulator.calls.filter(c2 => c2.status !== 429 && c2.status !== 'hang');
  const first = Math.min(...accepted.map(x => x.at));
  const last = Math.max(...accepted.map(x => x.at));
  const ceiling = 20 * ((last - first) / c.windowMs + 1);
  const byRole = new Map<string, number>();
  for (const a of emulator.accounts.values()) byRole.set(a.roleArn, (byRole.get(a.roleArn) ?? 0) + 1);
  const totalCalls = emulator.calls.length;

  const beforeNoChange = emulator.calls.length;
  await clock.advance(3_600_000);
  await invoke({ 'detail-type': 'Scheduled Event' });
  const noChangeRunCalls = emulator.calls.length - beforeNoChange;

  // A new account: its stack instance succeeds, the StackSet's event triggers a run.
  await clock.advance(3_600_000);
  const joined = addAccount(c.accounts);
  const instanceAt = clock.now();
  await invoke({ 'detail-type': 'CloudFormation StackSet StackInstance Status Change', 'time': new Date(instanceAt).toISOString() });
  const registration = [...emulator.accounts.values()].find(a => a.roleArn === `arn:aws:iam::${joined}:role/cloudcraft`);
  const newAccountToRegistrationSeconds = registration ? (Date.parse(registration.createdAt) - instanceAt) / 1000 : NaN;

  return {
    ...c,
    reading: `20 per ${c.windowMs / 1000} s, 429s ${c.countRejected ? '' : 'not '}counted`,
    registered: byRole.size,
    duplicates: [...byRole.values()].reduce((sum, n) => sum + n - 1, 0),
    runs,
    simulatedMinutesToRegisterAll: Number((took / 60_000).toFixed(1)),
    throughputOfLimit: Number((accepted.length / ceiling).toFixed(3)),
    rejected429OfCalls: Number((emulator.rejected429 / Math.max(1, totalCalls)).toFixed(4)),
    callsPerAccount: Number((totalCalls / (c.accounts + 1)).toFixed(3)),
    noChangeRunCalls,
    newAccountToRegistrationSeconds,
    realSeconds: Number(((Date.now() - started) / 1000).toFixed(1)),
  };
}

if (require.main === module) {
  const accounts = Number(process.argv[2] ?? 1000);
  const windowMs = Number(process.argv[3] ?? 60_000);
  const countRejected = process.argv[4] === 'counted';
  benchRegistrar({ accounts, windowMs, countRejected }).then(r => process.stdout.write(`${JSON.stringify(r)}\n`), err => {
    process.stderr.write(`${err?.stack ?? err}\n`);
    process.exit(1);
  });
}
