/**
 * The trust policy, as synthesized, evaluated by an independent IAM engine (@cloud-copilot/iam-simulate).
 */
import { AWS_REFS, CLOUDCRAFT_ACCOUNT, EXTERNAL_ID, onlyResource, resolveCfn, simulate, synthRole, TARGET_ACCOUNT } from './helpers';

const ROLE_ARN = `arn:aws:iam::${TARGET_ACCOUNT}:role/cloudcraft`;
const CLOUDCRAFT_CALLER = `arn:aws:iam::${CLOUDCRAFT_ACCOUNT}:role/cloudcraft-reader`;
const CALLER_STS_POLICY = {
  name: 'caller-may-use-sts',
  policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:*', Resource: '*' }] },
};

const trustPolicy = resolveCfn(
  onlyResource(synthRole().template, 'AWS::IAM::Role').Properties.AssumeRolePolicyDocument, AWS_REFS);

interface Attempt {
  principal: string;
  action?: string;
  externalId?: string;
  /** Identity policies of the caller (its own account must allow the call too). */
  identity?: boolean;
  context?: Record<string, string>;
}

async function decide(attempt: Attempt): Promise<string> {
  const contextVariables: Record<string, string> = { ...attempt.context };
  if (attempt.externalId !== undefined) contextVariables['sts:ExternalId'] = attempt.externalId;
  return simulate({ principal: attempt.principal, action: attempt.action ?? 'sts:AssumeRole', resource: ROLE_ARN, accountId: TARGET_ACCOUNT, context: contextVariables },
    { identity: attempt.identity === false ? [] : [CALLER_STS_POLICY], resource: trustPolicy });
}

describe('trust policy under an IAM policy engine', () => {
  test('the synthesized trust resolves to Cloudcraft\'s account root', () => {
    expect(trustPolicy.Statement[0].Principal).toEqual({ AWS: `arn:aws:iam::${CLOUDCRAFT_ACCOUNT}:root` });
  });

  test('Cloudcraft, with the right external ID, may assume the role', async () => {
    expect(await decide({ principal: CLOUDCRAFT_CALLER, externalId: EXTERNAL_ID })).toBe('Allowed');
  });

  test('an assumed-role session in Cloudcraft\'s account, with the right external ID, may assume the role', async () => {
    expect(await decide({ principal: `arn:aws:sts::${CLOUDCRAFT_ACCOUNT}:assumed-role/cloudcraft-reader/s1`, externalId: EXTERNAL_ID })).toBe('Allowed');
  });

  test('no MFA is required: a session without MFA is allowed', async () => {
    expect(await decide({
      principal: CLOUDCRAFT_CALLER, externalId: EXTERNAL_ID, context: { 'aws:MultiFactorAuthPresent': 'false' },
    })).toBe('Allowed');
  });

  test('a wrong external ID is denied', async () => {
    expect(await decide({ principal: CLOUDCRAFT_CALLER, externalId: '00000000-0000-4000-8000-000000000000' })).not.toBe('Allowed');
  });

  test('the external ID in another case is denied (StringEquals is case-sensitive)', async () => {
    expect(await decide({ principal: CLOUDCRAFT_CALLER, externalId: EXTERNAL_ID.toUpperCase() })).not.toBe('Allowed');
  });

  test('a missing external ID is denied', async () => {
    expect(await decide({ principal: CLOUDCRAFT_CALLER })).not.toBe('Allowed');
  });

  test('another AWS account, even with the right external ID, is denied', async () => {
    expect(await decide({ principal: 'arn:aws:iam::444455556666:role/cloudcraft-reader', externalId: EXTERNAL_ID })).not.toBe('Allowed');
  });

  test('the target account itself is not trusted', async () => {
    expect(await decide({ principal: `arn:aws:iam::${TARGET_ACCOUNT}:role/admin`, externalId: EXTERNAL_ID })).not.toBe('Allowed');
  });

  test('a principal in Cloudcraft\'s account that its own account does not let assume roles is denied', async () => {
    // The trust names the account root: it delegates to Cloudcraft's IAM, so only principals Cloudcraft's own
    // policies allow can use it.
    expect(await decide({ principal: `arn:aws:iam::${CLOUDCRAFT_ACCOUNT}:user/someone`, externalId: EXTERNAL_ID, identity: false })).not.toBe('Allowed');
  });

  test('a service principal is denied', async () => {
    expect(await decide({ principal: 'lambda.amazonaws.com', externalId: EXTERNAL_ID, identity: false })).not.toBe('Allowed');
  });

  test.each([
    'sts:AssumeRoleWithWebIdentity',
    'sts:AssumeRoleWithSAML',
    'sts:TagSession',
    'sts:SetSourceIdentity',
  ])('%s is denied', async (action) => {
    expect(await decide({ principal: CLOUDCRAFT_CALLER, externalId: EXTERNAL_ID, action })).not.toBe('Allowed');
  });
});
