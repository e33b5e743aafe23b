/**
 * Cloudcraft's live policies, read as pure functions: the vendored policies read as policies, every unexpected shape
 * is refused with its reason, the fingerprint ignores spelling but not permissions, and a changed policy served by
 * the emulator, read through the real Cloudcraft client, gives the drift a user is told about.
 */
import { CloudcraftEmulator, emulatorClient } from './support/cloudcraft-emulator';
import { VirtualClock } from './support/virtual-clock';
import customPolicy from '../lib/role/policies/cloudcraft-custom-policy.2023-08-18.json';
import minimalPolicy from '../lib/role/policies/cloudcraft-minimal-policy.2025-01.json';
import {
  documentDrift, driftAdvice, LivePolicy, MAX_LIVE_ACTIONS, MAX_LIVE_POLICY_CHARS, policyDrift, readLivePolicy, vendoredActions,
} from '../lib/runtime/live-policy';

const KEY = 'k'.repeat(44);
const allow = (extra: Record<string, unknown> = {}) => ({ Effect: 'Allow', Action: ['ec2:DescribeInstances'], Resource: '*', ...extra });
const doc = (...statements: unknown[]) => ({ Version: '2012-10-17', Statement: statements });
const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value));

function policy(body: unknown): Extract<LivePolicy, { kind: 'policy' }> {
  const read = readLivePolicy(body);
  if (read.kind !== 'policy') throw new Error(`expected a policy: ${read.reason}`);
  return read;
}

function reason(body: unknown): string {
  const read = readLivePolicy(body);
  if (read.kind !== 'unexpected') throw new Error('expected it to be refused');
  return read.reason;
}

describe('the vendored policies', () => {
  test('the minimal one reads as a policy with every action of the JSON', () => {
    const read = policy(minimalPolicy);
    const inJson = new Set(minimalPolicy.Statement.flatMap(s => s.Action).map(a => a.toLowerCase()));
    expect(inJson.size).toBeGreaterThan(100);
    expect(read.actions).toHaveLength(inJson.size);
    expect(read.document.Statement).toHaveLength(minimalPolicy.Statement.length);
    expect(read.document.Statement[1].Resource).toEqual(['*']);
    expect(read.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(vendoredActions(minimalPolicy)).toEqual(read.actions);
  });

  test('the custom one reads as a policy', () => {
    const read = policy(customPolicy);
    expect(read.actions).toContain('ec2:Describe*');
    expect(read.fingerprint).not.toEqual(policy(minimalPolicy).fingerprint);
  });

  test('actions are unique and sorted case-insensitively, in the spelling given', () => {
    expect(policy(doc(allow({ Action: ['s3:ListBucket', 'ec2:DescribeVpcs', 'ec2:describevpcs'] }), allow({ Action: 's3:LISTBUCKET' }))).actions)
      .toEqual(['ec2:DescribeVpcs', 's3:ListBucket']);
  });

  test('vendoredActions throws on a document that is not a policy', () => {
    expect(() => vendoredActions({ Statement: [] })).toThrow(/Statement is empty/);
  });
});

describe('unexpected answers are refused with what was wrong', () => {
  test.each<[string, unknown, RegExp]>([
    ['not JSON', undefined, /not JSON/],
    ['HTML', '<html><body>Bad gateway</body></html>', /not JSON \("<html><body>Bad gateway/],
    ['not an object', [allow()], /not a JSON object/],
    ['null', null, /not a JSON object/],
    ['no Statement', { Version: '2012-10-17' }, /no Statement/],
    ['an empty Statement', doc(), /Statement is empty/],
    ['an unknown Version', { Version: '2099-01-01', Statement: allow() }, /unknown Version "2099-01-01"/],
    ['a statement that is not an object', doc('ec2:DescribeInstances'), /statement 1 is not an object/],
    ['a Deny', doc(allow(), { ...allow(), Effect: 'Deny', Sid: 'NoData' }), /statement 2 \("NoData"\) is a Deny \(reported, never applied\)/],
    ['no Effect', doc({ Action: 'ec2:DescribeInstances', Resource: '*' }), /statement 1 has no Effect/],
    ['another Effect', doc(allow({ Effect: 'allow' })), /Effect "allow", not "Allow"/],
    ['NotAction', doc({ Effect: 'Allow', NotAction: 'iam:*', Resource: '*' }), /statement 1 has NotAction/],
    ['NotResource', doc(allow({ NotResource: 'arn:aws:s3:::secret' })), /has NotResource/],
    ['Principal', doc(allow({ Principal: '*' })), /has Principal/],
    ['Condition', doc(allow({ Condition: { Bool: { 'aws:SecureTransport': 'true' } } })), /has Condition/],
    ['an unknown key', doc(allow({ Actions: ['s3:GetObject'] })), /unknown keys \("Actions"\)/],
    ['no Action', doc({ Effect: 'Allow', Resource: '*' }), /has no Action/],
    ['an empty Action', doc(allow({ Action: [] })), /Action is an empty list/],
    ['an Action that is a number', doc(allow({ Action: [42] })), /Action has an item that is not a non-empty string \(42\)/],
    ['an action without a service', doc(allow({ Action: 'DescribeInstances' })), /"DescribeInstances", which is not a service:Action name/],
    ['an action with a space', doc(allow({ Action: 'ec2:Describe Instances' })), /which is not a service:Action name/],
    ['the action *', doc(allow({ Action: '*' })), /"\*", a wildcard service/],
    ['*:Get*', doc(allow({ Action: ['ec2:DescribeVpcs', '*:Get*'] })), /"\*:Get\*", a wildcard service/],
    ['s*:List*', doc(allow({ Action: 's*:List*' })), /"s\*:List\*", a wildcard service/],
    ['every action of a service', doc(allow({ Action: 'ec2:*' })), /every action of a service \("ec2:\*"\)/],
    ['no Resource', doc({ Effect: 'Allow', Action: 'ec2:DescribeInstances' }), /statement 1 has no Resource/],
    ['an empty Resource', doc(allow({ Resource: [] })), /Resource is an empty list/],
    ['a Resource that is an object', doc(allow({ Resource: { arn: '*' } })), /Resource is neither a string nor a list/],
  ])('%s', (_name, body, expected) => {
    const why = reason(body);
    expect(why).toMatch(/^Cloudcraft's policy is unexpected: /);
    expect(why).toMatch(expected);
    expect(why.length).toBeLessThanOrEqual(300);
  });

  test(`more than ${MAX_LIVE_ACTIONS} actions, with the figure`, () => {
    const actions = Array.from({ length: MAX_LIVE_ACTIONS + 1 }, (_, i) => `ec2:Describe${i}`);
    expect(reason(doc(allow({ Action: actions })))).toMatch(/2001 actions, more than 2000/);
    expect(readLivePolicy(doc(allow({ Action: actions.slice(1) }))).kind).toBe('unexpected'); // and over the characters
  });

  test(`more than ${MAX_LIVE_POLICY_CHARS} characters, with the figure`, () => {
    const actions = Array.from({ length: 400 }, (_, i) => `ec2:DescribeSomethingLong${i}`);
    const why = reason(doc(allow({ Action: actions })));
    expect(why).toMatch(/has (\d+) characters without whitespace, more than IAM's 10240/);
    expect(Number(/has (\d+) characters/.exec(why)![1])).toBeGreaterThan(MAX_LIVE_POLICY_CHARS);
    expect(readLivePolicy(doc(allow({ Action: actions.slice(0, 300) }))).kind).toBe('policy');
  });

  test('a long reason is cut', () => {
    expect(reason(doc(allow({ Action: `ec2:${'x'.repeat(400)} y` }))).length).toBeLessThanOrEqual(300);
  });
});

describe('normalization and fingerprint', () => {
  test('string and list forms, one statement or a list, read the same', () => {
    const strings = policy({ Version: '2012-10-17', Statement: { Effect: 'Allow', Action: 'ec2:DescribeInstances', Resource: '*' } });
    const lists = policy(doc({ Effect: 'Allow', Action: ['ec2:DescribeInstances'], Resource: ['*'] }));
    expect(strings.document).toEqual(lists.document);
    expect(strings.document).toEqual({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['ec2:DescribeInstances'], Resource: ['*'] }] });
    expect(strings.fingerprint).toEqual(lists.fingerprint);
  });

  test('the fingerprint ignores order, case, whitespace, statement order and Sid', () => {
    const base = policy(minimalPolicy).fingerprint;
    const shuffled = clone(minimalPolicy);
    shuffled.Statement.reverse();
    for (const s of shuffled.Statement) s.Action = s.Action.reverse().map((a: string, i: number) => (i % 2 ? a.toLowerCase() : a.toUpperCase()));
    expect(policy(shuffled).fingerprint).toEqual(base);
    expect(policy(JSON.parse(JSON.stringify(minimalPolicy, null, 7))).fingerprint).toEqual(base);
    expect(policy({ ...minimalPolicy, Statement: minimalPolicy.Statement.map((s, i) => ({ Sid: `S${i}`, ...s })) }).fingerprint).toEqual(base);
  });

  test('the fingerprint changes when an action is added, removed, or a resource changes', () => {
    const base = policy(minimalPolicy).fingerprint;
    const added = clone(minimalPolicy);
    added.Statement[1].Action.push('ec2:DescribeCarrierGateways');
    expect(policy(added).fingerprint).not.toEqual(base);
    const removed = clone(minimalPolicy);
    removed.Statement[1].Action.pop();
    expect(policy(removed).fingerprint).not.toEqual(base);
    const resource = clone(minimalPolicy);
    resource.Statement[0].Resource = [...resource.Statement[0].Resource, 'arn:aws:apigateway:*::/vpclinks'];
    expect(policy(resource).fingerprint).not.toEqual(base);
  });
});

describe('drift', () => {
  test('policyDrift: added and removed, case-insensitive, sorted, duplicates ignored', () => {
    expect(policyDrift(['ec2:DescribeVpcs', 's3:ListBucket', 'S3:LISTBUCKET'], ['s3:listbucket', 'lambda:ListFunctions', 'ec2:DescribeSubnets', 'ec2:describesubnets']))
      .toEqual({ added: ['ec2:describesubnets', 'lambda:listfunctions'], removed: ['ec2:describevpcs'] });
    expect(policyDrift(['ec2:DescribeVpcs'], ['EC2:DESCRIBEVPCS'])).toEqual({ added: [], removed: [] });
  });

  test('documentDrift: resources of an action in both are reported', () => {
    const deployed = policy(minimalPolicy).document;
    const changed = clone(minimalPolicy);
    changed.Statement[0].Resource = changed.Statement[0].Resource.slice(1);
    const drift = documentDrift(deployed, policy(changed).document);
    expect(drift).toEqual({ added: [], removed: [], reshaped: ['apigateway:get'], resourcesChanged: true });
    expect(documentDrift(deployed, policy(clone(minimalPolicy)).document).resourcesChanged).toBe(false);
  });

  test('driftAdvice: one sentence with the three ways, or nothing to do', () => {
    const advice = driftAdvice('minimal', { added: ['ec2:describecarriergateways'], removed: [] }, '2025-01');
    expect(advice).toMatch(/adds ec2:describecarriergateways compared with version 2025-01/);
    expect(advice).toMatch(/update cdk-cloudcraft.*CloudcraftAccess\.readOnlyAccess\(\).*CloudcraftAccess\.minimal\(\{ followLivePolicy: true \}\) \(single account only\)\.$/);
    expect(advice.split('. ')).toHaveLength(1);
    const many = driftAdvice('minimal', { added: [], removed: ['a:a', 'a:b', 'a:c', 'a:d', 'a:e', 'a:f', 'a:g'], resourcesChanged: true }, '2025-01');
    expect(many).toMatch(/drops a:a, a:b, a:c, a:d, a:e and 2 more and changes resources/);
    expect(driftAdvice('minimal', { added: [], removed: [] }, '2025-01')).toMatch(/nothing to do/);
  });
});

test('a changed policy served by the emulator, read through the Cloudcraft client, gives its drift', async () => {
  const clock = new VirtualClock();
  const emulator = new CloudcraftEmulator({ clock, users: [{ key: KEY, externalId: 'ext' }] });
  const client = emulatorClient(emulator, clock, KEY);
  // One action removed, one added, and the API Gateway statement's Action as a string rather than a list.
  const [gateway, reads] = minimalPolicy.Statement;
  emulator.policies.minimal = doc(
    { ...gateway, Action: 'apigateway:GET' },
    { ...reads, Action: reads.Action.filter(a => a !== 'ec2:DescribeSubnets').concat(['ec2:DescribeCarrierGateways']) },
  );

  const outcome = await clock.run(() => client.call('policy', 'GET', '/aws/account/iamParameters/policy/minimal'));
  const live = policy(outcome.kind === 'response' ? outcome.body : undefined);
  const deployed = policy(minimalPolicy);
  expect(live.fingerprint).not.toEqual(deployed.fingerprint);
  expect(policyDrift(deployed.actions, live.actions)).toEqual({ added: ['ec2:describecarriergateways'], removed: ['ec2:describesubnets'] });
  expect(documentDrift(deployed.document, live.document)).toEqual({
    added: ['ec2:describecarriergateways'], removed: ['ec2:describesubnets'], reshaped: [], resourcesChanged: false,
  });
  expect(emulator.calls.map(c => [c.method, c.path, c.authorization])).toEqual([['GET', '/aws/account/iamParameters/policy/minimal', `Bearer ${KEY}`]]);

  emulator.policies.custom = '<html>Service Unavailable</html>';
  const raw = await clock.run(() => client.call('policy', 'GET', '/aws/account/iamParameters/policy/custom', { accept: [200] }));
  expect(readLivePolicy(raw.kind === 'response' ? raw.body ?? raw.text : undefined)).toEqual({
    kind: 'unexpected', reason: 'Cloudcraft\'s policy is unexpected: the answer is not JSON ("<html>Service Unavailable</html>").',
  });
});
