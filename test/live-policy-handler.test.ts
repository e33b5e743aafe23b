/**
 * Cloudcraft's live minimal policy in the single-account handler, on virtual time against the emulator, with the
 * role's inline policy, the SSM state and EventBridge in memory: Custom::CloudcraftLivePolicy applies the live policy
 * (the vendored copy when the live one cannot be used) and removes it on Delete; the daily rule's event reports a
 * change once, or applies it (follow); an event naming another API is refused without a request.
 */
import { CloudcraftEmulator, IN_PROCESS_URL } from './support/cloudcraft-emulator';
import { API_KEY, cfnEvent, EXTERNAL_ID, SECRET_ARN } from './support/harness';
import { VirtualClock } from './support/virtual-clock';
import { createLivePolicyHandler } from '../lib/registration/live-policy-function';
import { LivePolicyIo } from '../lib/registration/live-policy-function/apply';
import { LIVE_POLICY_TYPE, LivePolicyResourceProperties, POLICY_CHECK_EVENT } from '../lib/registration/live-policy-function/contract';
import { minimalPolicyJson } from '../lib/role/minimal-policy';
import { POLICY_CHANGED } from '../lib/runtime/events';
import { LivePolicyDocument, readLivePolicy } from '../lib/runtime/live-policy';
import { PolicyCheckState } from '../lib/runtime/policy-check';

const DAY = 86_400_000;
const ROLE = 'cloudcraft';
const POLICY = 'cloudcraft-minimal-live';

class MemoryLivePolicyIo implements LivePolicyIo {
  readonly inline = new Map<string, LivePolicyDocument>();
  readonly parameters = new Map<string, string>([['/cdk/state', '{}']]);
  readonly events: Array<{ detailType: string; detail: Record<string, unknown> }> = [];
  putEventFailures = 0;
  /** PutRolePolicy refuses a document holding this action, with this error (as IAM refuses a document it does not take). */
  refuse?: { action: string; error: string };
  /** DeleteRolePolicy fails with this error. */
  deleteError?: string;
  readonly putEvent = async (detailType: string, detail: Record<string, unknown>) => {
    if (this.putEventFailures > 0) {
      this.putEventFailures--;
      throw new Error('ThrottlingException');
    }
    this.events.push({ detailType, detail });
  };
  async readState(parameter: string) {
    return JSON.parse(this.parameters.get(parameter) ?? '{}') as PolicyCheckState;
  }
  async writeState(parameter: string, state: PolicyCheckState) {
    this.parameters.set(parameter, JSON.stringify(state));
  }
  async getRolePolicy(role: string, name: string) {
    const document = this.inline.get(`${role}/${name}`);
    // As IAM answers it (decoded by the SDK adapter): JSON.
    return document ? JSON.parse(JSON.stringify(document)) : undefined;
  }
  async putRolePolicy(role: string, name: string, document: LivePolicyDocument) {
    if (this.refuse && JSON.stringify(document).includes(this.refuse.action)) throw Object.assign(new Error('refused'), { name: this.refuse.error });
    this.inline.set(`${role}/${name}`, JSON.parse(JSON.stringify(document)));
  }
  async deleteRolePolicy(role: string, name: string) {
    if (this.deleteError) throw Object.assign(new Error('refused'), { name: this.deleteError });
    return this.inline.delete(`${role}/${name}`) ? 'deleted' as const : 'gone' as const;
  }
}

function props(mode: 'check' | 'follow', over: Partial<LivePolicyResourceProperties> = {}): LivePolicyResourceProperties {
  return {
    ApiUrl: IN_PROCESS_URL,
    ApiKeySource: 'secretsmanager',
    ApiKeyId: SECRET_ARN,
    Mode: mode,
    RoleName: ROLE,
    StateParameter: '/cdk/state',
    MetricsNamespace: 'cdk-cloudcraft',
    Partition: 'aws',
    ...over,
  };
}

/** The vendored minimal policy with one action added. */
function changed(action = 'ec2:DescribeCarrierGateways') {
  const vendored = minimalPolicyJson();
  return { ...vendored, Statement: vendored.Statement.map((s, i) => (i === 1 ? { ...s, Action: [...s.Action, action] } : s)) };
}

function setup() {
  const clock = new VirtualClock();
  const emulator = new CloudcraftEmulator({ clock, users: [{ key: API_KEY, externalId: EXTERNAL_ID }] });
  const io = new MemoryLivePolicyIo();
  const logs: string[] = [];
  /** Every request to a URL other than the emulator's (CloudFormation's answers, or anywhere else). */
  const answers: any[] = [];
  const elsewhere: string[] = [];
  const handler = createLivePolicyHandler({
    clock,
    transport: emulator.transport(async request => {
      elsewhere.push(request.url);
      answers.push(JSON.parse(request.body ?? '{}'));
      return { status: 200, headers: {}, text: '' };
    }),
    readSecret: async ref => {
      if (ref.id !== SECRET_ARN) throw Object.assign(new Error('not found'), { name: 'ResourceNotFoundException' });
      return API_KEY;
    },
    io,
    sink: line => logs.push(line),
    random: () => 0.5,
    apiUrls: new Set([IN_PROCESS_URL]),
  });
  const context = { getRemainingTimeInMillis: () => 5 * 60_000 };
  const resource = async (type: 'Create' | 'Update' | 'Delete', p: LivePolicyResourceProperties, extra: Record<string, unknown> = {}) => {
    const event = cfnEvent(type, p as unknown as Record<string, unknown>, 'https://cloudformation-response.test', { ResourceType: LIVE_POLICY_TYPE, ...extra });
    await clock.run(() => handler(event, context));
    return { answer: answers[answers.length - 1] };
  };
  const daily = async (p: LivePolicyResourceProperties) => {
    await clock.run(() => handler({ cdkCloudcraft: POLICY_CHECK_EVENT, properties: p }, context));
  };
  const h = { clock, emulator, handler: () => handler };
  const policyReads = () => h.emulator.calls.filter(c => c.path === '/aws/account/iamParameters/policy/minimal').length;
  const actions = () => readLivePolicy(io.inline.get(`${ROLE}/${POLICY}`)).kind === 'policy'
    ? (readLivePolicy(io.inline.get(`${ROLE}/${POLICY}`)) as { actions: string[] }).actions : [];
  return { h, io, logs, resource, daily, policyReads, actions, elsewhere };
}

describe('Custom::CloudcraftLivePolicy (followLivePolicy)', () => {
  test('Create applies Cloudcraft\'s live policy as the role\'s inline policy; Delete removes it, and again is fine', async () => {
    const w = setup();
    w.h.emulator.policies.minimal = changed();
    const created = await w.resource('Create', props('follow'));
    expect(created.answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: `cloudcraft-live-policy:${ROLE}:${POLICY}`, Data: { Source: 'live' } });
    expect(w.actions()).toContain('ec2:DescribeCarrierGateways');
    const deleted = await w.resource('Delete', props('follow'), { PhysicalResourceId: created.answer.PhysicalResourceId });
    expect(deleted.answer.Status).toBe('SUCCESS');
    expect(w.io.inline.size).toBe(0);
    expect((await w.resource('Delete', props('follow'), { PhysicalResourceId: created.answer.PhysicalResourceId })).answer.Status).toBe('SUCCESS');
  });

  test('Cloudcraft failing, or answering an unexpected shape, at deploy time: the vendored copy is applied, and the answer says why', async () => {
    const failing = setup();
    failing.h.emulator.inject({ path: '/aws/account/iamParameters/policy/minimal', status: 503, times: 100 });
    const created = await failing.resource('Create', props('follow'));
    expect(created.answer).toMatchObject({ Status: 'SUCCESS', Data: { Source: 'vendored' } });
    expect(created.answer.Reason).toMatch(/vendored copy was applied/);
    expect(failing.actions()).toEqual(readLivePolicy(minimalPolicyJson()).kind === 'policy' ? (readLivePolicy(minimalPolicyJson()) as { actions: string[] }).actions : []);

    const odd = setup();
    odd.h.emulator.policies.minimal = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['ec2:DescribeInstances', 'iam:*'], Resource: '*' }] };
    const answer = (await odd.resource('Create', props('follow'))).answer;
    expect(answer).toMatchObject({ Status: 'SUCCESS', Data: { Source: 'vendored' } });
    expect(odd.actions()).not.toContain('iam:*');
  });

  test('a live policy IAM refuses at deploy time: the vendored copy; a Delete IAM refuses: success, with the command to remove it', async () => {
    const w = setup();
    w.h.emulator.policies.minimal = changed('ec2:DescribeCarrierGateways');
    w.io.refuse = { action: 'ec2:DescribeCarrierGateways', error: 'MalformedPolicyDocumentException' };
    const created = await w.resource('Create', props('follow'));
    expect(created.answer).toMatchObject({ Status: 'SUCCESS', Data: { Source: 'vendored' }, Reason: expect.stringMatching(/IAM refused it/) });
    expect(w.actions()).not.toContain('ec2:DescribeCarrierGateways');
    expect(w.actions().length).toBeGreaterThan(100);
    w.io.deleteError = 'AccessDeniedException';
    const deleted = await w.resource('Delete', props('follow'), { PhysicalResourceId: created.answer.PhysicalResourceId });
    expect(deleted.answer).toMatchObject({ Status: 'SUCCESS', Reason: expect.stringMatching(/aws iam delete-role-policy --role-name cloudcraft --policy-name cloudcraft-minimal-live/) });
    w.io.deleteError = 'ServiceFailure';
    expect((await w.resource('Delete', props('follow'), { PhysicalResourceId: created.answer.PhysicalResourceId })).answer.Status).toBe('FAILED');
  });

  test('in another partition, the policy\'s ARNs are written in it', async () => {
    const w = setup();
    await w.resource('Create', props('follow', { Partition: 'aws-us-gov' }));
    const resources = w.io.inline.get(`${ROLE}/${POLICY}`)!.Statement.flatMap(s => s.Resource);
    expect(resources.some(r => r.startsWith('arn:aws-us-gov:apigateway:'))).toBe(true);
    expect(resources.some(r => r.startsWith('arn:aws:'))).toBe(false);
  });
});

describe('the daily rule\'s event', () => {
  test('check: one read a day; a change is reported once (event, warning with the actions, metric), never applied', async () => {
    const w = setup();
    w.h.emulator.policies.minimal = changed();
    for (let day = 0; day < 4; day++) {
      await w.daily(props('check'));
      await w.h.clock.advance(DAY);
    }
    expect(w.policyReads()).toBe(4);
    expect(w.io.events).toHaveLength(1);
    expect(w.io.events[0]).toMatchObject({ detailType: POLICY_CHANGED, detail: { status: 'changed', added: ['ec2:describecarriergateways'], applied: false } });
    expect(w.io.inline.size).toBe(0);
    const lines = w.logs.map(l => JSON.parse(l));
    expect(lines.filter(l => l.level === 'warn' && l.policy === 'minimal')).toHaveLength(1);
    const metrics = lines.filter(l => l._aws);
    expect(metrics).toHaveLength(4);
    expect(metrics.every(m => m.PolicyDrift === 1 && m.RoleName === ROLE && m._aws.CloudWatchMetrics[0].Namespace === 'cdk-cloudcraft')).toBe(true);
  });

  test('follow: a change is applied and reported once; an inline policy removed by hand is put back', async () => {
    const w = setup();
    await w.resource('Create', props('follow'));
    expect(w.actions()).not.toContain('ec2:DescribeCarrierGateways');
    w.h.emulator.policies.minimal = changed();
    await w.h.clock.advance(DAY);
    await w.daily(props('follow'));
    expect(w.actions()).toContain('ec2:DescribeCarrierGateways');
    expect(w.io.events).toEqual([expect.objectContaining({ detail: expect.objectContaining({ applied: true }) })]);
    // Removed by hand, while Cloudcraft's policy is the vendored one again: the role gets it back.
    w.io.inline.clear();
    w.h.emulator.policies.minimal = minimalPolicyJson();
    await w.h.clock.advance(DAY);
    await w.daily(props('follow'));
    expect(w.actions().length).toBeGreaterThan(100);
    expect(w.actions()).not.toContain('ec2:DescribeCarrierGateways');
  });

  test('an unexpected answer is reported once and never applied; the role keeps its policy', async () => {
    const w = setup();
    await w.resource('Create', props('follow'));
    const before = w.actions();
    w.h.emulator.policies.minimal = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:PutObject', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'true' } } }] };
    for (let day = 1; day <= 2; day++) {
      await w.h.clock.advance(DAY);
      await w.daily(props('follow'));
    }
    expect(w.actions()).toEqual(before);
    expect(w.io.events).toHaveLength(1);
    expect(w.io.events[0].detail).toMatchObject({ status: 'unexpected', applied: false, reason: expect.stringMatching(/Condition/) });
  });

  test('an event naming another API is refused before any request; a stray event is refused too', async () => {
    const w = setup();
    const sent = w.h.emulator.calls.length;
    await w.daily(props('follow', { ApiUrl: 'https://collector.example.com' }));
    await w.h.clock.run(() => w.h.handler()({ hello: 'world' } as any, { getRemainingTimeInMillis: () => 60_000 }));
    expect(w.h.emulator.calls.length).toBe(sent);
    expect(w.elsewhere).toEqual([]);
    expect(w.io.inline.size).toBe(0);
    expect(w.logs.map(l => JSON.parse(l).msg)).toEqual(expect.arrayContaining([
      'the policy check failed: the next one tries again', expect.stringMatching(/neither CloudFormation's nor the daily policy check's/),
    ]));
  });

  test('follow: a change IAM refuses is not applied and not reported; an applied change EventBridge refused is reported by the next check', async () => {
    const w = setup();
    await w.resource('Create', props('follow'));
    const before = w.actions();
    w.h.emulator.policies.minimal = changed('ec2:DescribeCoipPools');
    w.io.refuse = { action: 'ec2:DescribeCoipPools', error: 'LimitExceededException' };
    await w.h.clock.advance(DAY);
    await w.daily(props('follow'));
    expect(w.actions()).toEqual(before);
    expect(w.io.events).toHaveLength(0);
    expect(w.logs.map(l => JSON.parse(l)).filter(l => l._aws).at(-1)).toMatchObject({ PolicyCheckFailed: 1 });

    w.io.refuse = undefined;
    w.io.putEventFailures = 1;
    await w.h.clock.advance(DAY);
    await w.daily(props('follow'));
    expect(w.actions()).toContain('ec2:DescribeCoipPools');
    expect(w.io.events).toHaveLength(0);
    const reads = w.policyReads();
    await w.h.clock.advance(3_600_000);
    await w.daily(props('follow'));
    // Owed: put without asking Cloudcraft again.
    expect(w.io.events).toEqual([expect.objectContaining({ detail: expect.objectContaining({ applied: true, added: ['ec2:describecoippools'] }) })]);
    expect(w.policyReads()).toBe(reads);
  });

  test('EventBridge refusing the event: reported by the next check', async () => {
    const w = setup();
    w.h.emulator.policies.minimal = changed();
    w.io.putEventFailures = 1;
    await w.daily(props('check'));
    expect(w.io.events).toHaveLength(0);
    await w.h.clock.advance(DAY);
    await w.daily(props('check'));
    expect(w.io.events).toHaveLength(1);
  });
});
