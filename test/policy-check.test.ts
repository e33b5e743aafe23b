/**
 * The daily check of Cloudcraft's minimal policy (lib/runtime/policy-check.ts), shared by the registrar and the
 * registration function: its decisions directly, and the check against the emulator serving a changed policy, on
 * virtual time: a change is reported once, not every day; an unexpected answer is reported and never applied.
 */
import { CloudcraftEmulator, emulatorClient } from './support/cloudcraft-emulator';
import { VirtualClock } from './support/virtual-clock';
import { MINIMAL_POLICY_VERSION, minimalPolicyJson } from '../lib/role/minimal-policy';
import { POLICY_CHANGED } from '../lib/runtime/events';
import { LivePolicyDocument } from '../lib/runtime/live-policy';
import {
  checkPolicy, DeployedPolicy, judgePolicy, POLICY_CHECK_INTERVAL_MS, POLICY_RETRY_MS, PolicyCheckState, readingOf, vendoredMinimal,
} from '../lib/runtime/policy-check';

const KEY = 'k'.repeat(44);
const DAY = 86_400_000;

/** The vendored minimal policy with one action added and one removed. */
function changed(add = 'ec2:DescribeCarrierGateways', remove = 'ec2:DescribeSubnets') {
  const vendored = minimalPolicyJson();
  return {
    ...vendored,
    Statement: vendored.Statement.map(s => (s.Action.includes(remove) ? { ...s, Action: [...s.Action.filter(a => a !== remove), add] } : s)),
  };
}

describe('judging a reading', () => {
  const vendored = vendoredMinimal();

  test('the vendored policy served as it is: in step, nothing reported', () => {
    const verdict = judgePolicy(undefined, readingOf(minimalPolicyJson()), vendored, false, 0);
    expect(verdict.report).toBeUndefined();
    expect(verdict.metrics.PolicyDrift).toBe(0);
    expect(verdict.state.nextAt).toBe(POLICY_CHECK_INTERVAL_MS);
  });

  test('a change is reported once with the actions added and removed and what to do; the next day only the metric', () => {
    const reading = readingOf(changed());
    const first = judgePolicy(undefined, reading, vendored, false, 0);
    expect(first.report?.detail).toMatchObject({
      policy: 'minimal', status: 'changed', added: ['ec2:describecarriergateways'], removed: ['ec2:describesubnets'], vendoredVersion: MINIMAL_POLICY_VERSION, applied: false,
    });
    expect(first.report?.message).toMatch(/1 added, 1 removed.*update cdk-cloudcraft.*readOnlyAccess.*followLivePolicy/);
    expect(first.metrics.PolicyDrift).toBe(1);
    const next = judgePolicy(first.state, reading, vendored, false, DAY);
    expect(next.report).toBeUndefined();
    expect(next.metrics.PolicyDrift).toBe(1);
    // Another change is reported anew.
    const again = judgePolicy(next.state, readingOf(changed('ec2:DescribeCoipPools')), vendored, false, 2 * DAY);
    expect(again.report?.detail.added).toEqual(['ec2:describecoippools']);
  });

  test('back in step ends the report: the same change later is reported again', () => {
    const reading = readingOf(changed());
    const first = judgePolicy(undefined, reading, vendored, false, 0);
    const inStep = judgePolicy(first.state, readingOf(minimalPolicyJson()), vendored, false, DAY);
    expect(inStep.state.reported).toBeUndefined();
    expect(judgePolicy(inStep.state, reading, vendored, false, 2 * DAY).report).toBeDefined();
  });

  test('an unexpected shape is reported once as such, never applied, even in follow mode', () => {
    const deny = { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'ec2:DescribeInstances', Resource: '*' }] };
    for (const answer of ['<html>maintenance</html>', deny, { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*:Get*', Resource: '*' }] }]) {
      const verdict = judgePolicy(undefined, readingOf(answer), vendored, true, 0);
      expect(verdict.apply).toBeUndefined();
      expect(verdict.report?.detail).toMatchObject({ status: 'unexpected', applied: false });
      expect(verdict.metrics.PolicyUnexpected).toBe(1);
      expect(judgePolicy(verdict.state, readingOf(answer), vendored, true, DAY).report).toBeUndefined();
    }
  });

  test('follow mode applies a change and reports it applied; a read that failed is tried again in an hour, reporting nothing', () => {
    const verdict = judgePolicy(undefined, readingOf(changed()), vendored, true, 0);
    expect(verdict.apply).toEqual(readingOf(changed()).kind === 'policy' ? (readingOf(changed()) as { document: LivePolicyDocument }).document : undefined);
    expect(verdict.report?.detail).toMatchObject({ applied: true });
    const failed = judgePolicy(undefined, { kind: 'unavailable', reason: 'no answer' }, vendored, true, 5);
    expect(failed).toMatchObject({ state: { nextAt: 5 + POLICY_RETRY_MS }, metrics: { PolicyCheckFailed: 1 } });
    expect(failed.report).toBeUndefined();
    expect(failed.apply).toBeUndefined();
  });
});

describe('the check against the emulator', () => {
  function setup(follow = false) {
    const clock = new VirtualClock();
    const emulator = new CloudcraftEmulator({ clock, users: [{ key: KEY, externalId: 'ext' }] });
    const events: Array<{ detailType: string; detail: Record<string, unknown> }> = [];
    let state: PolicyCheckState | undefined;
    let applied: DeployedPolicy | undefined;
    const lines: Array<{ level: string; msg: string }> = [];
    const io = {
      readState: async () => state,
      writeState: async (s: PolicyCheckState) => {
        state = s;
      },
      putEvent: async (detailType: string, detail: Record<string, unknown>) => {
        events.push({ detailType, detail });
      },
      ...(follow ? {
        follow: {
          applied: async () => applied,
          apply: async (document: LivePolicyDocument) => {
            const read = readingOf(document);
            if (read.kind !== 'policy') throw new Error('not a policy');
            applied = { document, fingerprint: read.fingerprint, version: 'live' };
          },
        },
      } : {}),
    };
    const check = () => clock.run(() => checkPolicy(emulatorClient(emulator, clock, KEY, { maxAttempts: 3 }), io,
      (level, msg) => lines.push({ level, msg }), () => clock.now()));
    const policyCalls = () => emulator.calls.filter(c => c.path === '/aws/account/iamParameters/policy/minimal').length;
    return { clock, emulator, events, check, policyCalls, lines, applied: () => applied };
  }

  test('one call a day; a changed policy is reported once (a warning and an event), not every day', async () => {
    const w = setup();
    for (let hour = 0; hour < 24 * 5; hour++) {
      if (hour === 48) w.emulator.policies.minimal = changed();
      await w.check();
      await w.clock.advance(3_600_000);
    }
    // Hourly invocations, one read every 23 hours at the most: 6 reads in 5 days.
    expect(w.policyCalls()).toBe(6);
    expect(w.events).toHaveLength(1);
    expect(w.events[0]).toMatchObject({ detailType: POLICY_CHANGED, detail: { added: ['ec2:describecarriergateways'] } });
    expect(w.lines.filter(l => l.level === 'warn' && /ec2:DescribeCarrierGateways/i.test(l.msg))).toHaveLength(1);
  });

  test('follow mode: the change is applied once, reported once; the next day the role has it', async () => {
    const w = setup(true);
    w.emulator.policies.minimal = changed();
    await w.check();
    expect(w.applied()?.fingerprint).toBe((readingOf(changed()) as { fingerprint: string }).fingerprint);
    await w.clock.advance(DAY);
    await w.check();
    expect(w.events).toHaveLength(1);
    expect(w.events[0].detail).toMatchObject({ applied: true });
  });

  test('Cloudcraft failing: no report, tried again an hour later, not every invocation', async () => {
    const w = setup();
    w.emulator.inject({ path: '/aws/account/iamParameters/policy/minimal', status: 503, times: 3 });
    await w.check();
    await w.clock.advance(30 * 60_000);
    await w.check();
    expect(w.policyCalls()).toBe(3);
    await w.clock.advance(31 * 60_000);
    await w.check();
    expect(w.policyCalls()).toBe(4);
    expect(w.events).toHaveLength(0);
  });
});
