/**
 * The live-policy function's AWS I/O through the real AWS SDK v3 (lib/registration/live-policy-function/aws.ts),
 * against local IAM and SSM stand-ins reached through AWS_ENDPOINT_URL_IAM / AWS_ENDPOINT_URL_SSM: the inline policy
 * read back as IAM answers it (URL-encoded), deleted twice, and the check's state kept in its parameter.
 */
import { LocalIamSsm } from './support/local-aws';
import { sdkLivePolicyIo } from '../lib/registration/live-policy-function/aws';
import { minimalPolicyJson } from '../lib/role/minimal-policy';
import { readLivePolicy } from '../lib/runtime/live-policy';

let local: LocalIamSsm;
const saved: Record<string, string | undefined> = {};
const ENV = ['AWS_ENDPOINT_URL_IAM', 'AWS_ENDPOINT_URL_SSM', 'AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'];

beforeAll(async () => {
  local = await new LocalIamSsm().start();
  for (const key of ENV) saved[key] = process.env[key];
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_IAM: local.url, AWS_ENDPOINT_URL_SSM: local.url, AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIDLOCAL', AWS_SECRET_ACCESS_KEY: 'local',
  });
});

afterAll(async () => {
  for (const key of ENV) {
    if (saved[key] === undefined) delete process.env[key];
    else process.env[key] = saved[key];
  }
  await local.stop();
});

test('the inline policy is written, read back as the same document (IAM answers it URL-encoded), and deleted once', async () => {
  const io = sdkLivePolicyIo();
  const read = readLivePolicy(minimalPolicyJson());
  if (read.kind !== 'policy') throw new Error(read.reason);
  expect(await io.getRolePolicy('cloudcraft', 'cloudcraft-minimal-live')).toBeUndefined();
  await io.putRolePolicy('cloudcraft', 'cloudcraft-minimal-live', read.document);
  // Sent as JSON, as IAM takes it.
  expect(JSON.parse(local.inline.get('cloudcraft/cloudcraft-minimal-live')!)).toEqual(read.document);
  expect(await io.getRolePolicy('cloudcraft', 'cloudcraft-minimal-live')).toEqual(read.document);
  expect(await io.deleteRolePolicy('cloudcraft', 'cloudcraft-minimal-live')).toBe('deleted');
  expect(await io.deleteRolePolicy('cloudcraft', 'cloudcraft-minimal-live')).toBe('gone');
  // A role that no longer exists: nothing to remove.
  expect(await io.deleteRolePolicy('gone-role', 'cloudcraft-minimal-live')).toBe('gone');
});

test('the check\'s state is kept in its parameter (overwritten), and read back', async () => {
  const io = sdkLivePolicyIo();
  local.parameters.set('/cdk/state', '{}');
  expect(await io.readState('/cdk/state')).toEqual({});
  await io.writeState('/cdk/state', { nextAt: 5, reported: 'abc' });
  expect(JSON.parse(local.parameters.get('/cdk/state')!)).toEqual({ nextAt: 5, reported: 'abc' });
  expect(await io.readState('/cdk/state')).toEqual({ nextAt: 5, reported: 'abc' });
});
