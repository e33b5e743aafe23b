/**
 * A world for the diagram work's tests: two registered accounts in the Cloudcraft emulator (on virtual time), with
 * components in two regions, the state, S3 and EventBridge in memory, and `run` for one invocation of DiagramRun.
 */
import { CloudcraftEmulator, emulatorClient } from './cloudcraft-emulator';
import { MemoryDiagramIo, MemoryPacingStore } from './memory-diagrams';
import { VirtualClock } from './virtual-clock';
import { BlueprintMode } from '../../lib/diagrams/worker/blueprint-plan';
import { DiagramRun, DiagramSettings, SNAPSHOT_CALL_MS, SNAPSHOT_MIN_START_MS } from '../../lib/diagrams/worker/run';
import { SharedPacing } from '../../lib/runtime/pacing';

export const KEY = 'k'.repeat(44);
export const EXTERNAL_ID = '0b3c2c4e-1111-4222-8333-944455556666';
export const ACCOUNTS = ['111122223333', '444455556666'];

export interface WorldOptions {
  readonly regions?: string[];
  readonly formats?: string[];
  readonly concurrency?: number;
  readonly blueprints?: BlueprintMode;
  /** Whether the emulator's blueprint answers carry an ETag. */
  readonly blueprintEtags?: boolean;
}

export function world(options: WorldOptions = {}) {
  const clock = new VirtualClock();
  const emulator = new CloudcraftEmulator({ clock, users: [{ key: KEY, externalId: EXTERNAL_ID, id: 'key-user' }], blueprintEtags: options.blueprintEtags });
  const registrations = ACCOUNTS.map(id => emulator.seedAccount({ roleArn: `arn:aws:iam::${id}:role/cloudcraft`, name: `acct ${id}` }));
  for (const id of ACCOUNTS) {
    emulator.inventories.set(`${id}/eu-west-1`, [{ id: `i-${id}`, type: 'ec2' }, { id: `db-${id}`, type: 'rds' }]);
    emulator.inventories.set(`${id}/us-east-1`, [{ id: `fn-${id}`, type: 'lambda' }]);
  }
  const io = new MemoryDiagramIo();
  const pacingStore = new MemoryPacingStore();
  const settings: DiagramSettings = {
    regions: options.regions ?? ['eu-west-1', 'us-east-1'],
    formats: options.formats ?? ['png', 'svg'],
    query: 'theme=dark',
    prefix: 'diagrams/',
    concurrency: options.concurrency ?? 4,
    ...(options.blueprints ? { blueprints: options.blueprints } : {}),
  };
  const lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = [];
  const run = (trigger: 'schedule' | 'tick', owner = 'run-1', minutes = 14) => {
    const client = emulatorClient(emulator, clock, KEY, {
      pacing: new SharedPacing(pacingStore, clock.now(), undefined, { reservePerMinute: 5 }),
      log: (level, msg, fields) => lines.push({ level, msg, fields }),
      deadlineAt: clock.now() + minutes * 60_000,
      keepBodies: true,
      callTimeoutMs: SNAPSHOT_CALL_MS,
      minCallMs: SNAPSHOT_MIN_START_MS,
    });
    const diagramRun = new DiagramRun({
      io,
      client,
      clock,
      settings,
      owner,
      log: (level, msg, fields) => lines.push({ level, msg, fields }),
      targets: async () => registrations.map((r, i) => ({ accountId: ACCOUNTS[i], registrationId: r.id })),
    });
    return clock.run(() => diagramRun.run(trigger));
  };
  return { clock, emulator, io, run, registrations, lines, snapshotCalls: () => emulator.calls.filter(c => /^\/aws\/account\/[^/]+\/[^/]+\/[^/]+$/.test(c.path)) };
}

