/**
 * The diagram work, benchmarked on virtual time: its real run (DiagramRun, with the real client and the key's shared
 * pacing at the default share) against the Cloudcraft emulator in process, with its state, S3 and EventBridge in
 * memory. A round is opened by the schedule and continued by a tick every 15 minutes, as the construct's rules do,
 * each invocation with Lambda's 15-minute deadline, until the round is finished.
 *
 * Figures: simulated minutes for a round, accepted calls as a fraction of the share the work is given (20 a minute
 * less the 5 left to registration, per started minute from its first call to its last), 429s, a day with no change (JSON calls, image calls, events), a day where 5%
 * changed, and the longest wait a registration call would have had at any moment of the round.
 */
import { DiagramRun, DiagramSummary, SNAPSHOT_CALL_MS, SNAPSHOT_MIN_START_MS } from '../lib/diagrams/worker/run';
import { CloudcraftClient } from '../lib/runtime/cloudcraft';
import { Pacer } from '../lib/runtime/pacer';
import { SharedPacing } from '../lib/runtime/pacing';
import { CloudcraftEmulator, IN_PROCESS_URL } from '../test/support/cloudcraft-emulator';
import { MemoryDiagramIo, MemoryPacingStore } from '../test/support/memory-diagrams';
import { VirtualClock } from '../test/support/virtual-clock';

const KEY = 'Q2xvdWRjcmFmdFRlc3RLZXlGb3JUaGVFbXVsYXRvcjA=';
const EXTERNAL_ID = '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';
const RESERVE = 5;
const TICK_MS = 15 * 60_000;
/** An invocation's time: Lambda's 15 minutes less what the handler keeps back. */
const INVOCATION_MS = 15 * 60_000 - 20_000;

export interface DiagramsBenchCase {
  readonly accounts: number;
  /** How long Cloudcraft takes to scan an account-region. */
  readonly scanMs: number;
}

export interface DiagramsBenchResult extends DiagramsBenchCase {
  readonly share: string;
  readonly simulatedMinutesForRound: number;
  readonly invocations: number;
  readonly throughputOfShare: number;
  readonly rejected429: number;
  readonly noChangeDay: { readonly jsonCalls: number; readonly imageCalls: number; readonly events: number; readonly minutes: number };
  readonly fivePercentDay: { readonly changed: number; readonly imageCalls: number; readonly events: number };
  /** The longest a registration request (no reserve) would have waited at any minute of the first round. */
  readonly registrationMaxWaitSeconds: number;
  readonly realSeconds: number;
}

export async function benchDiagrams(c: DiagramsBenchCase): Promise<DiagramsBenchResult> {
  const started = Date.now();
  const clock = new VirtualClock();
  const emulator = new CloudcraftEmulator({ clock, users: [{ key: KEY, externalId: EXTERNAL_ID }], rateLimit: { requests: 20, windowMs: 60_000, retryAfter: 'seconds', countRejected: true } });
  emulator.snapshotScanMs = c.scanMs;
  const accounts = Array.from({ length: c.accounts }, (_, i) => String(100000000000 + i));
  const registrations = accounts.map(id => emulator.seedAccount({ roleArn: `arn:aws:iam::${id}:role/cloudcraft`, name: id }));
  accounts.forEach(id => emulator.inventories.set(`${id}/eu-west-1`, [{ id: `i-${id}`, type: 'ec2' }]));
  const io = new MemoryDiagramIo();
  const store = new MemoryPacingStore();
  let invocations = 0;
  const invoke = async (trigger: 'schedule' | 'tick'): Promise<DiagramSummary> => {
    invocations++;
    const client = new CloudcraftClient({
      apiUrl: IN_PROCESS_URL,
      apiKey: KEY,
      keySource: 'bench',
      clock,
      transport: emulator.transport(),
      pacing: new SharedPacing(store, clock.now(), undefined, { reservePerMinute: RESERVE }),
      log: () => undefined,
      random: () => 0.5,
      deadlineAt: clock.now() + INVOCATION_MS,
      keepBodies: true,
      callTimeoutMs: SNAPSHOT_CALL_MS,
      minCallMs: SNAPSHOT_MIN_START_MS,
    });
    const run = new DiagramRun({
      io,
      client,
      clock,
      log: () => undefined,
      owner: `bench-${invocations}`,
      settings: { regions: ['eu-west-1'], formats: ['png', 'svg'], query: '', prefix: 'd/', concurrency: 8 },
      targets: async () => accounts.map((accountId, i) => ({ accountId, registrationId: registrations[i].id })),
    });
    return clock.run(() => run.run(trigger));
  };
  /** A round from the schedule, ticks until finished; the registration wait sampled each minute. */
  const round = async (sample?: number[]) => {
    const t0 = clock.now();
    let trigger: 'schedule' | 'tick' = 'schedule';
    let summary: DiagramSummary;
    let sampling = !!sample;
    const sampler = sample ? (async () => {
      while (sampling) {
        await clock.sleep(60_000);
        if (!sampling) return;
        const state = (await store.read()).state;
        sample.push(new Pacer(state, clock.now()).delay(clock.now()));
      }
    })() : undefined;
    void sampler;
    for (let i = 0; i < 500; i++) {
      const tickAt = clock.now();
      summary = await invoke(trigger);
      if (summary.finished) {
        sampling = false;
        return { summary, minutes: (clock.now() - t0) / 60_000 };
      }
      trigger = 'tick';
      await clock.advance(Math.max(0, tickAt + TICK_MS - clock.now()));
    }
    throw new Error('bench: the round did not finish in 500 invocations');
  };
  const waits: number[] = [];
  const calls0 = emulator.calls.length;
  const first = await round(waits);
  const firstCalls = emulator.calls.slice(calls0);
  const accepted = firstCalls.filter(x => x.status !== 429).length;
  // The most a sliding window of 15 a minute allows from the first call to the last: 15 per started minute.
  const spanMinutes = (firstCalls[firstCalls.length - 1].at - firstCalls[0].at) / 60_000;
  const throughputOfShare = accepted / ((20 - RESERVE) * (Math.floor(spanMinutes) + 1));

  // The next day's schedule (or at once, when a round took longer than a day).
  await clock.advance(Math.max(0, 86_400_000 - first.minutes * 60_000));
  const before = { calls: emulator.calls.length, events: io.events.length };
  const quiet = await round();
  const quietCalls = emulator.calls.slice(before.calls);
  const noChangeDay = {
    jsonCalls: quietCalls.filter(x => x.path.endsWith('/json')).length,
    imageCalls: quietCalls.filter(x => /\/(png|svg)$/.test(x.path)).length,
    events: io.events.length - before.events,
    minutes: Math.round(quiet.minutes),
  };

  await clock.advance(Math.max(0, 86_400_000 - quiet.minutes * 60_000));
  const changed = accounts.filter((_, i) => i % 20 === 0);
  changed.forEach(id => emulator.inventories.set(`${id}/eu-west-1`, [{ id: `i-${id}`, type: 'ec2' }, { id: `q-${id}`, type: 'sqs' }]));
  const before5 = { calls: emulator.calls.length, events: io.events.length };
  await round();
  const calls5 = emulator.calls.slice(before5.calls);
  return {
    ...c,
    share: `${20 - RESERVE} of 20 a minute`,
    simulatedMinutesForRound: Math.round(first.minutes),
    invocations,
    throughputOfShare: Math.round(throughputOfShare * 1000) / 1000,
    rejected429: emulator.rejected429,
    noChangeDay,
    fivePercentDay: { changed: changed.length, imageCalls: calls5.filter(x => /\/(png|svg)$/.test(x.path)).length, events: io.events.length - before5.events },
    registrationMaxWaitSeconds: Math.round(Math.max(0, ...waits) / 1000),
    realSeconds: Math.round((Date.now() - started) / 100) / 10,
  };
}

if (require.main === module) {
  void (async () => {
    const cases = process.argv.includes('--quick') ? [{ accounts: 100, scanMs: 0 }]
      : [{ accounts: 100, scanMs: 0 }, { accounts: 1_000, scanMs: 0 }, { accounts: 1_000, scanMs: 30_000 }, { accounts: 10_000, scanMs: 0 }];
    for (const c of cases) {
      console.log(JSON.stringify(await benchDiagrams(c)));
    }
  })();
}
