/**
 * The Organization registrar's daily check of Cloudcraft's minimal policy, when the member roles have it: one read a
 * day after the accounts, a change reported once (a warning, an event, the metric), nothing for an Organization
 * with ReadOnlyAccess, and a check that cannot be done never stops a run.
 */
import { cloudcraftCalls, expectConverged, HOUR, invoke, MANAGEMENT, member, reconfigure, useWorld, world } from './support/registrar-world';
import { minimalPolicyJson } from '../lib/role/minimal-policy';
import { POLICY_CHANGED } from '../lib/runtime/events';

useWorld();

const POLICY_PATH = '/aws/account/iamParameters/policy/minimal';
const policyReads = () => world.emulator.calls.filter(c => c.path === POLICY_PATH).length;

function changedPolicy() {
  const vendored = minimalPolicyJson();
  return { ...vendored, Statement: vendored.Statement.map((s, i) => (i === 1 ? { ...s, Action: [...s.Action, 'ec2:DescribeCarrierGateways'] } : s)) };
}

function metricsOf(line: string): Record<string, unknown> | undefined {
  const parsed = JSON.parse(line);
  return parsed._aws ? parsed : undefined;
}

test('without the minimal policy in the members, no check', async () => {
  member('a');
  await invoke();
  expect(policyReads()).toBe(0);
});

test('with it: one read a day, after the accounts; a change is reported once, with the metric while it lasts', async () => {
  await reconfigure({ policyCheck: true });
  const a = member('a');
  const first = await invoke();
  expect(first).toMatchObject({ registered: 2, complete: true, policy: { PolicyDrift: 0 } });
  expectConverged([a, MANAGEMENT]);
  // The accounts first: the policy is the last call of the run.
  expect(world.emulator.calls[world.emulator.calls.length - 1].path).toBe(POLICY_PATH);

  world.emulator.policies.minimal = changedPolicy();
  const drifts: unknown[] = [];
  for (let hour = 1; hour <= 72; hour++) {
    await world.clock.advance(HOUR);
    const summary = await invoke();
    if (summary.policy) drifts.push(summary.policy.PolicyDrift);
  }
  // Hourly runs; a read every 23 hours: 3 more in three days, each with the metric at 1.
  expect(policyReads()).toBe(4);
  expect(drifts).toEqual([1, 1, 1]);
  expect(world.aws.events).toHaveLength(1);
  expect(world.aws.events[0]).toMatchObject({ detailType: POLICY_CHANGED, detail: { status: 'changed', added: ['ec2:describecarriergateways'], applied: false } });
  const warnings = world.logs.map(l => JSON.parse(l)).filter(l => l.level === 'warn' && l.policy === 'minimal');
  expect(warnings).toHaveLength(1);
  expect(warnings[0].added).toEqual(['ec2:describecarriergateways']);
  const withDrift = world.logs.map(metricsOf).filter(m => m && m.PolicyDrift === 1);
  expect(withDrift).toHaveLength(3);
});

test('Cloudcraft failing on the policy, or EventBridge refusing the event: the run is not stopped, and the check is done again later', async () => {
  await reconfigure({ policyCheck: true });
  member('a');
  world.emulator.policies.minimal = changedPolicy();
  world.emulator.inject({ path: POLICY_PATH, status: 503, times: 4 });
  const summary = await invoke();
  expect(summary).toMatchObject({ registered: 2, complete: true, policy: { PolicyCheckFailed: 1 } });
  world.aws.failNext('PutEvents', 'ThrottlingException');
  await world.clock.advance(HOUR);
  const second = await invoke();
  expect(second).toMatchObject({ complete: true });
  expect(second.policy).toBeUndefined();
  expect(world.aws.events).toHaveLength(0);
  await world.clock.advance(HOUR);
  await invoke();
  expect(world.aws.events).toHaveLength(1);
  expect(cloudcraftCalls()).toBeGreaterThan(0);
});
