/**
 * The maintainers' task (tools/update-policies.ts) against the in-process emulator, in a copy of the vendored
 * policies: nothing is written while Cloudcraft serves what is vendored; a changed policy becomes a new dated file
 * equal to what was served, with a changelog entry; an unexpected answer writes nothing.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CloudcraftEmulator, IN_PROCESS_URL } from './support/cloudcraft-emulator';
import minimalPolicy from '../lib/role/policies/cloudcraft-minimal-policy.2025-01.json';
import { newestVendored, updatePolicies } from '../tools/update-policies';

const KEY = 'k'.repeat(44);
const VENDORED = path.join(__dirname, '..', 'lib', 'role', 'policies');
const TODAY = '2026-03-14';

/** A root with a copy of lib/role/policies/*.json and no docs/. */
function tempRoot(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'update-policies-'));
  fs.mkdirSync(path.join(root, 'lib', 'role', 'policies'), { recursive: true });
  for (const file of fs.readdirSync(VENDORED).filter(f => f.endsWith('.json'))) {
    fs.copyFileSync(path.join(VENDORED, file), path.join(root, 'lib', 'role', 'policies', file));
  }
  return root;
}

const files = (root: string) => fs.readdirSync(path.join(root, 'lib', 'role', 'policies')).sort();
const changelog = (root: string) => path.join(root, 'docs', 'policy-changelog.md');

let root: string;
let emulator: CloudcraftEmulator;
const run = () => updatePolicies({ apiUrl: IN_PROCESS_URL, apiKey: KEY, root, transport: emulator.transport(), today: TODAY });

beforeEach(() => {
  root = tempRoot();
  emulator = new CloudcraftEmulator({ users: [{ key: KEY, externalId: 'ext' }] });
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

test('the newest vendored file is chosen by the date in its name', () => {
  expect(newestVendored(root, 'minimal')).toBe('cloudcraft-minimal-policy.2025-01.json');
  fs.writeFileSync(path.join(root, 'lib', 'role', 'policies', 'cloudcraft-minimal-policy.2025-01-15.json'), '{}');
  fs.writeFileSync(path.join(root, 'lib', 'role', 'policies', 'cloudcraft-minimal-policy.2024-12-31.json'), '{}');
  expect(newestVendored(root, 'minimal')).toBe('cloudcraft-minimal-policy.2025-01-15.json');
  expect(newestVendored(root, 'custom')).toBe('cloudcraft-custom-policy.2023-08-18.json');
});

test('unchanged policies: no file written, no changelog', async () => {
  const before = files(root);
  const result = await run();
  expect(result.written).toEqual([]);
  expect(result.messages).toEqual(['minimal: unchanged since cloudcraft-minimal-policy.2025-01.json.', 'custom: unchanged since cloudcraft-custom-policy.2023-08-18.json.']);
  expect(files(root)).toEqual(before);
  expect(fs.existsSync(changelog(root))).toBe(false);
  expect(emulator.calls.map(c => `${c.method} ${c.path} ${c.status}`)).toEqual([
    'GET /aws/account/iamParameters/policy/minimal 200', 'GET /aws/account/iamParameters/policy/custom 200',
  ]);
});

test('the same policy spelled otherwise (order, case, string forms) is unchanged', async () => {
  const [gateway, reads] = minimalPolicy.Statement;
  emulator.policies.minimal = {
    Version: '2012-10-17',
    Statement: [{ ...reads, Action: [...reads.Action].reverse().map(a => a.toUpperCase()) }, { ...gateway, Action: 'apigateway:get' }],
  };
  expect((await run()).written).toEqual([]);
  expect(fs.existsSync(changelog(root))).toBe(false);
});

test('a changed minimal policy: one new dated file equal to what was served, and a changelog entry naming both actions', async () => {
  const [gateway, reads] = minimalPolicy.Statement;
  const served = { Version: '2012-10-17', Statement: [gateway, { ...reads, Action: reads.Action.filter(a => a !== 'ec2:DescribeSubnets').concat('ec2:DescribeCarrierGateways') }] };
  emulator.policies.minimal = served;
  const before = files(root);

  const result = await run();
  const file = 'cloudcraft-minimal-policy.2026-03-14.json';
  expect(files(root)).toEqual([...before, file].sort());
  const text = fs.readFileSync(path.join(root, 'lib', 'role', 'policies', file), 'utf8');
  expect(JSON.parse(text)).toEqual(served);
  expect(text).toBe(`${JSON.stringify(served, null, 2)}\n`);
  expect(result.written).toEqual([{
    kind: 'minimal',
    file: `lib/role/policies/${file}`,
    previous: 'cloudcraft-minimal-policy.2025-01.json',
    added: ['ec2:DescribeCarrierGateways'],
    removed: ['ec2:DescribeSubnets'],
    reshaped: [],
  }]);
  expect(result.messages.join('\n')).toMatch(/point lib\/role\/minimal-policy\.ts at cloudcraft-minimal-policy\.2026-03-14\.json/);

  const log = fs.readFileSync(changelog(root), 'utf8');
  expect(log).toMatch(/^# Changes of Cloudcraft's IAM policies\n\n## 2026-03-14: minimal policy\n/);
  expect(log).toContain('- added: `ec2:DescribeCarrierGateways`');
  expect(log).toContain('- removed: `ec2:DescribeSubnets`');
  expect(log).not.toMatch(/custom policy/);

  // A later change is prepended under the title; the earlier entry stays.
  emulator.policies.custom = { Version: '2012-10-17', Statement: { Effect: 'Allow', Action: 'ec2:Describe*', Resource: '*' } };
  await updatePolicies({ apiUrl: IN_PROCESS_URL, apiKey: KEY, root, transport: emulator.transport(), today: '2026-04-01' });
  const later = fs.readFileSync(changelog(root), 'utf8');
  expect(later.indexOf('## 2026-04-01: custom policy')).toBeLessThan(later.indexOf('## 2026-03-14: minimal policy'));
  expect(later.match(/^# /gm)).toHaveLength(1);
  expect(later).toMatch(/- removed: .*`s3:List\*`/);
  expect(files(root)).toContain('cloudcraft-custom-policy.2026-04-01.json');
  expect(files(root)).not.toContain('cloudcraft-minimal-policy.2026-04-01.json');
});

test('an unexpected answer is refused with its reason, and nothing is written', async () => {
  emulator.policies.custom = '<html>Service Unavailable</html>';
  emulator.policies.minimal = { ...minimalPolicy, Statement: [...minimalPolicy.Statement, { Effect: 'Allow', Action: 'ec2:DescribeCarrierGateways', Resource: '*' }] };
  const before = files(root);
  await expect(run()).rejects.toThrow(/^The custom policy was not written\. Cloudcraft's policy is unexpected: the answer is not JSON \("<html>Service Unavailable/);
  expect(files(root)).toEqual(before);
  expect(fs.existsSync(changelog(root))).toBe(false);
});

test('a Deny is refused, and a rejected key stops the task with Cloudcraft\'s reason', async () => {
  emulator.policies.minimal = { Version: '2012-10-17', Statement: { Effect: 'Deny', Action: 'ec2:DescribeInstances', Resource: '*' } };
  await expect(run()).rejects.toThrow(/minimal policy was not written.*is a Deny/);
  await expect(updatePolicies({ apiUrl: IN_PROCESS_URL, apiKey: 'other', root, transport: emulator.transport(), today: TODAY }))
    .rejects.toThrow(/Cloudcraft rejected the API key \(401.*CLOUDCRAFT_API_KEY/);
  await expect(updatePolicies({ apiUrl: IN_PROCESS_URL, apiKey: KEY, root, transport: emulator.transport(), today: '14/03/2026' })).rejects.toThrow(/YYYY-MM-DD/);
  expect(fs.existsSync(changelog(root))).toBe(false);
});

test('the project\'s changelog keeps its introduction first; a new entry goes above the earlier ones', async () => {
  fs.mkdirSync(path.join(root, 'docs'));
  fs.copyFileSync(path.join(__dirname, '..', 'docs', 'policy-changelog.md'), changelog(root));
  const before = fs.readFileSync(changelog(root), 'utf8');
  const doc = emulator.policies.minimal as { Statement: Array<{ Action: string[] }> };
  emulator.policies.minimal = { ...doc, Statement: [doc.Statement[0], { ...doc.Statement[1], Action: [...doc.Statement[1].Action, 'ec2:DescribeCarrierGateways'] }] };
  await run();
  const after = fs.readFileSync(changelog(root), 'utf8');
  const intro = before.slice(0, before.search(/^## /m));
  expect(after.startsWith(intro)).toBe(true);
  expect(after.indexOf(`## ${TODAY}: minimal policy`)).toBe(intro.length);
  expect(after.endsWith(before.slice(intro.length))).toBe(true);
});
