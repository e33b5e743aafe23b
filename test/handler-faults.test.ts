/**
 * The fault matrix: the handler (TypeScript source, in process) against the local Cloudcraft emulator, local
 * Secrets Manager / SSM and a local ResponseURL. Each scenario asserts the answer to CloudFormation (status,
 * physical ID, reason), the calls the emulator saw, and the emulator's final state (no duplicate, no orphan).
 * Time runs 50 times faster (CDK_CLOUDCRAFT_TIME_SCALE): waits and deadlines are in unscaled milliseconds.
 */
import { API_KEY, configureEnvironment, EXTERNAL_ID, Handler, Harness, Invocation, ROLE_ARN, SECRET_ARN } from './support/harness';

const SCALE = 0.02;
configureEnvironment(SCALE);
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { handler } = require('../lib/registration/handler') as { handler: Handler };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
let h: Harness;
const everyAnswer: Invocation[] = [];

beforeEach(async () => {
  h = await Harness.start(SCALE);
});
afterEach(async () => {
  await h.stop();
});

async function run(event: any, remainingMs?: number): Promise<Invocation> {
  const result = await h.invoke(handler, event, remainingMs);
  everyAnswer.push(result);
  // Whatever happened: exactly one answer, well formed, and in time.
  expect(result.answers).toHaveLength(1);
  expect(Object.keys(result.answer).sort()).toEqual(expect.arrayContaining(['LogicalResourceId', 'PhysicalResourceId', 'Reason', 'RequestId', 'StackId', 'Status']));
  expect(result.answer.RequestId).toBe(event.RequestId);
  return result;
}

function create(overrides: Record<string, unknown> = {}) {
  return h.event('Create', h.registrationProps(overrides));
}

const calls = () => h.emulator.calls.map(c => `${c.method} ${c.path.replace(/[0-9a-f-]{36}/, '{id}')} ${c.status}`);

describe('Create', () => {
  test('happy path: one list, one POST; physical ID is the Cloudcraft account ID', async () => {
    const { answer } = await run(create({ ReadAccess: ['team-a'], WriteAccess: ['team-b'], Region: 'eu-west-1' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(answer.PhysicalResourceId).toMatch(UUID);
    expect(answer.Data).toEqual({ CloudcraftAccountId: answer.PhysicalResourceId, RoleArn: ROLE_ARN, Adopted: 'false' });
    expect(calls()).toEqual(['GET /aws/account 200', 'POST /aws/account 201']);
    const [account] = h.emulator.registrationsOf(ROLE_ARN);
    expect(account).toMatchObject({ id: answer.PhysicalResourceId, name: 'production', readAccess: ['team/team-a'], writeAccess: ['team/team-b'], region: 'eu-west-1' });
    expect(h.emulator.calls[1].authorization).toBe(`Bearer ${API_KEY}`);
  });

  test('adopts an existing registration of the same role instead of duplicating it, and updates it', async () => {
    const existing = h.emulator.seedAccount({ name: 'added by hand', roleArn: ROLE_ARN });
    const { answer } = await run(create({ ReadAccess: ['team-a'] }));
    expect(answer.Status).toBe('SUCCESS');
    expect(answer.PhysicalResourceId).toBe(`adopted:${existing.id}`);
    expect(answer.Data.CloudcraftAccountId).toBe(existing.id);
    expect(answer.Data.Adopted).toBe('true');
    expect(calls()).toEqual(['GET /aws/account 200', 'PUT /aws/account/{id} 200']);
    expect(h.emulator.registrationsOf(ROLE_ARN)).toEqual([expect.objectContaining({ id: existing.id, name: 'production', readAccess: ['team/team-a'] })]);
  });

  test('adopting a registration that already matches makes no PUT', async () => {
    h.emulator.seedAccount({ name: 'production', roleArn: ROLE_ARN });
    const { answer } = await run(create());
    expect(answer.Status).toBe('SUCCESS');
    expect(calls()).toEqual(['GET /aws/account 200']);
  });

  test('with duplicates already there, adopts the oldest and leaves the others alone', async () => {
    const older = h.emulator.seedAccount({ name: 'a', roleArn: ROLE_ARN, createdAt: '2024-01-01T00:00:00.000Z' });
    h.emulator.seedAccount({ name: 'b', roleArn: ROLE_ARN, createdAt: '2025-01-01T00:00:00.000Z' });
    const { answer } = await run(create());
    expect(answer.PhysicalResourceId).toBe(`adopted:${older.id}`);
    expect(h.emulator.registrationsOf(ROLE_ARN)).toHaveLength(2);
  });

  test('401: the key is rejected; the reason names the secret, never the key', async () => {
    h.secrets.secrets.set(SECRET_ARN, 'not-the-right-key-not-the-right-key-0000000=');
    const { answer } = await run(create());
    expect(answer.Status).toBe('FAILED');
    expect(answer.PhysicalResourceId).toBe('cloudcraft-unregistered');
    expect(answer.Reason).toContain('Cloudcraft rejected the API key (401)');
    expect(answer.Reason).toContain(SECRET_ARN);
    expect(calls()).toEqual(['GET /aws/account 401']);
    expect(h.emulator.accounts.size).toBe(0);
  });

  test.each([
    ['a viewer', { role: 'viewer' }],
    ['a read-only key', { readOnlyKey: true }],
    ['a free plan', { plan: 'free' }],
  ])('403 for %s: the reason says Owner or Administrator, read-write, Pro', async (_name, user) => {
    h.emulator.users.splice(0, 1, { key: API_KEY, externalId: EXTERNAL_ID, ...user } as any);
    const { answer } = await run(create());
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(/403.*Owner or Administrator.*read-write.*Pro/);
    expect(calls()).toEqual(['GET /aws/account 200', 'POST /aws/account 403']);
    expect(h.emulator.accounts.size).toBe(0);
  });

  test('400 while IAM propagates, then success: retried, one registration', async () => {
    h.emulator.addRole(ROLE_ARN, { externalId: EXTERNAL_ID, assumableAt: h.emulator.now() + 8_000 });
    const { answer } = await run(create());
    expect(answer.Status).toBe('SUCCESS');
    const posts = h.emulator.callsTo('POST', '/aws/account');
    expect(posts.length).toBeGreaterThanOrEqual(2);
    expect(posts.slice(0, -1).every(c => c.status === 400)).toBe(true);
    expect(posts[posts.length - 1].status).toBe(201);
    expect(h.emulator.registrationsOf(ROLE_ARN)).toHaveLength(1);
  });

  test('400 forever (external ID of another user): fails after the propagation window with the verification reason', async () => {
    h.emulator.addRole(ROLE_ARN, { externalId: '11111111-2222-4333-8444-555555555555' });
    const { answer, tookMs } = await run(create());
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(/could not verify the role arn:aws:iam::111122223333:role\/cloudcraft .*external ID must be the one of the Cloudcraft user who owns the API key/);
    expect(tookMs).toBeGreaterThanOrEqual(90_000);
    expect(tookMs).toBeLessThan(300_000);
    expect(h.emulator.accounts.size).toBe(0);
  });

  test('400 from an SCP-blocked verification region: the reason points at verificationRegion; another region works', async () => {
    await h.stop();
    h = await Harness.start(SCALE, { blockedRegions: ['us-east-1'] });
    const blocked = await run(create(), 60_000);
    expect(blocked.answer.Status).toBe('FAILED');
    expect(blocked.answer.Reason).toMatch(/from us-east-1.*set verificationRegion to an allowed region/);
    const allowed = await run(create({ Region: 'eu-central-1' }));
    expect(allowed.answer.Status).toBe('SUCCESS');
    expect(h.emulator.registrationsOf(ROLE_ARN)).toHaveLength(1);
  });

  test('400 that is not about verification (bad role ARN) fails at once', async () => {
    const { answer } = await run(create({ RoleArn: 'arn:aws:iam::111122223333:user/not-a-role' }));
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(/Cloudcraft rejected the request while registering the AWS account \(400: "Invalid roleArn"\)/);
    expect(h.emulator.callsTo('POST')).toHaveLength(1);
  });

  test('429 with Retry-After in seconds is honoured', async () => {
    h.emulator.inject({ method: 'POST', status: 429, body: { error: 'Too Many Requests', reason: 'too_many_requests', code: 429 }, headers: { 'Retry-After': '7' } });
    const { answer } = await run(create());
    expect(answer.Status).toBe('SUCCESS');
    const [limited, accepted] = h.emulator.callsTo('POST');
    expect(limited.status).toBe(429);
    expect(accepted.status).toBe(201);
    expect(accepted.at - limited.at).toBeGreaterThanOrEqual(7_000 * 0.95);
    expect(h.emulator.registrationsOf(ROLE_ARN)).toHaveLength(1);
  });

  test('429 with Retry-After as an HTTP date: retried after the date (parsing is unit-tested in decide.test.ts)', async () => {
    const until = Date.now() + 2_000;
    h.emulator.inject({ method: 'POST', status: 429, body: { error: 'Too Many Requests', reason: 'too_many_requests', code: 429 }, headers: { 'Retry-After': new Date(until).toUTCString() } });
    const { answer } = await run(create());
    expect(answer.Status).toBe('SUCCESS');
    expect(h.emulator.callsTo('POST').map(c => c.status)).toEqual([429, 201]);
    expect(h.emulator.registrationsOf(ROLE_ARN)).toHaveLength(1);
  });

  test('429 without Retry-After waits as if the stricter limit (20 a minute) held', async () => {
    h.emulator.inject({ method: 'GET', path: '/aws/account', status: 429, body: { error: 'Too Many Requests', reason: 'too_many_requests', code: 429 } });
    const { answer } = await run(create());
    expect(answer.Status).toBe('SUCCESS');
    const [limited, next] = h.emulator.callsTo('GET', '/aws/account');
    expect(next.at - limited.at).toBeGreaterThanOrEqual(60_000 * 0.95);
  });

  test('the emulator\'s own rate limit (20 per 10 s, Retry-After) is respected by back-to-back creates', async () => {
    h.emulator.rateLimit = { requests: 3, windowMs: 10_000, retryAfter: 'seconds' };
    for (let i = 0; i < 3; i++) {
      const role = `arn:aws:iam::11112222333${i}:role/cloudcraft`;
      h.emulator.addRole(role, { externalId: EXTERNAL_ID });
      expect((await run(create({ RoleArn: role, AccountName: `acct-${i}` }))).answer.Status).toBe('SUCCESS');
    }
    expect(h.emulator.rejected429).toBeGreaterThan(0);
    expect(h.emulator.accounts.size).toBe(3);
  });

  test('429 past the deadline: fails early with the rate-limit reason, before the deadline', async () => {
    h.emulator.inject({ method: 'GET', status: 429, headers: { 'Retry-After': '120' }, body: { error: 'Too Many Requests', reason: 'too_many_requests', code: 429 }, times: 5 });
    const { answer, tookMs } = await run(create(), 60_000);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(/kept rate-limiting the API key \(429\).*MaxConcurrentCount/);
    expect(tookMs).toBeLessThan(60_000);
    expect(h.emulator.accounts.size).toBe(0);
  });

  test.each([500, 502, 503])('%i on the list is retried', async (status) => {
    h.emulator.inject({ method: 'GET', path: '/aws/account', status, body: { error: 'Internal Server Error', reason: 'internal_server_error', code: status }, times: 2 });
    const { answer } = await run(create());
    expect(answer.Status).toBe('SUCCESS');
    expect(calls()).toEqual([`GET /aws/account ${status}`, `GET /aws/account ${status}`, 'GET /aws/account 200', 'POST /aws/account 201']);
  });

  test('503 after the POST was done: the handler looks before posting again, no duplicate', async () => {
    h.emulator.inject({ method: 'POST', status: 503, text: '<html>Service Unavailable</html>', afterAction: true });
    const { answer } = await run(create());
    expect(answer.Status).toBe('SUCCESS');
    const [account] = h.emulator.registrationsOf(ROLE_ARN);
    expect(answer.PhysicalResourceId).toBe(account.id); // created by us, not adopted
    expect(h.emulator.registrationsOf(ROLE_ARN)).toHaveLength(1);
    expect(calls()).toEqual(['GET /aws/account 200', 'POST /aws/account 503', 'GET /aws/account 200']);
  });

  test('a reset connection after the POST was done: no duplicate', async () => {
    h.emulator.inject({ method: 'POST', reset: true, afterAction: true });
    const { answer } = await run(create());
    expect(answer.Status).toBe('SUCCESS');
    expect(h.emulator.registrationsOf(ROLE_ARN)).toHaveLength(1);
    expect(answer.PhysicalResourceId).toBe(h.emulator.registrationsOf(ROLE_ARN)[0].id);
  });

  test('a reset connection before the POST reached Cloudcraft: retried, one registration', async () => {
    h.emulator.inject({ method: 'POST', reset: true });
    const { answer } = await run(create());
    expect(answer.Status).toBe('SUCCESS');
    expect(calls()).toEqual(['GET /aws/account 200', 'POST /aws/account reset', 'GET /aws/account 200', 'POST /aws/account 201']);
  });

  test('a hung API call times out and is retried', async () => {
    h.emulator.inject({ method: 'GET', hangMs: Infinity });
    const { answer } = await run(create());
    expect(answer.Status).toBe('SUCCESS');
    expect(calls()).toEqual(['GET /aws/account hang', 'GET /aws/account 200', 'POST /aws/account 201']);
  });

  test('an API that hangs on every call: FAILED before the deadline, nothing registered', async () => {
    h.emulator.inject({ hangMs: Infinity, times: 100 });
    const { answer, tookMs } = await run(create(), 60_000);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(/no answer from http:\/\/127\.0\.0\.1:\d+ while listing AWS accounts after \d+ attempts \(timed out\)/);
    expect(tookMs).toBeLessThan(60_000);
  });

  test.each([
    ['a 200 with an HTML body', { status: 200, text: '<html>proxy</html>' }],
    ['a 502 with an HTML body', { status: 502, text: '<html>Bad Gateway</html>' }],
  ])('%s is retried', async (_name, fault) => {
    h.emulator.inject({ method: 'GET', ...fault });
    const { answer } = await run(create());
    expect(answer.Status).toBe('SUCCESS');
    expect(h.emulator.callsTo('GET', '/aws/account')).toHaveLength(2);
  });

  test('the ResponseURL fails once: the answer is PUT again', async () => {
    h.responses.failNext = 1;
    const { answer } = await run(create());
    expect(answer.Status).toBe('SUCCESS');
  });

  test('a malformed resource (no RoleArn) fails with a reason and calls nothing', async () => {
    const props = h.registrationProps();
    delete props.RoleArn;
    const { answer } = await run(h.event('Create', props));
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toBe('cdk-cloudcraft: property RoleArn is missing.');
    expect(h.emulator.calls).toHaveLength(0);
  });
});

describe('API key sources', () => {
  test('SSM SecureString parameter, read with decryption', async () => {
    h.secrets.parameters.set('arn:aws:ssm:us-east-1:111122223333:parameter/cloudcraft/api-key', API_KEY);
    const { answer } = await run(create({ ApiKeySource: 'ssm', ApiKeyId: 'arn:aws:ssm:us-east-1:111122223333:parameter/cloudcraft/api-key' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(h.secrets.reads).toEqual([{ target: 'AmazonSSM.GetParameter', id: 'arn:aws:ssm:us-east-1:111122223333:parameter/cloudcraft/api-key', withDecryption: true }]);
  });

  test('a JSON field of a secret', async () => {
    h.secrets.secrets.set(SECRET_ARN, JSON.stringify({ apiKey: API_KEY, other: 'x' }));
    const { answer } = await run(create({ ApiKeyField: 'apiKey' }));
    expect(answer.Status).toBe('SUCCESS');
  });

  test('access denied to the secret: FAILED with the secret named, no Cloudcraft call', async () => {
    h.secrets.denied.add(SECRET_ARN);
    const { answer } = await run(create());
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(/Cannot read the Cloudcraft API key from secret arn:aws:secretsmanager:.*: AccessDeniedException. The function's role/);
    expect(h.emulator.calls).toHaveLength(0);
  });

  test('a secret without the JSON field', async () => {
    h.secrets.secrets.set(SECRET_ARN, API_KEY);
    const { answer } = await run(create({ ApiKeyField: 'apiKey' }));
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(/is not JSON, so field "apiKey" cannot be read/);
  });
});

describe('Update', () => {
  async function registered(props: Record<string, unknown> = {}): Promise<string> {
    const { answer } = await run(create(props));
    expect(answer.Status).toBe('SUCCESS');
    h.emulator.calls.length = 0;
    return answer.PhysicalResourceId;
  }

  test('rename and team change: one PUT, same physical ID', async () => {
    const id = await registered();
    const { answer } = await run(h.event('Update', h.registrationProps({ AccountName: 'prod-eu', ReadAccess: ['team-a'], WriteAccess: ['team-b'] }),
      { PhysicalResourceId: id, OldResourceProperties: h.registrationProps() }));
    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: id });
    expect(calls()).toEqual(['PUT /aws/account/{id} 200']);
    expect(h.emulator.calls[0].body).toEqual({ name: 'prod-eu', roleArn: ROLE_ARN, readAccess: ['team/team-a'], writeAccess: ['team/team-b'] });
    expect(h.emulator.accounts.get(id)).toMatchObject({ name: 'prod-eu', readAccess: ['team/team-a'], writeAccess: ['team/team-b'] });
  });

  test('removing the teams sends null (Cloudcraft\'s default), even if PUT would keep omitted fields', async () => {
    const id = await registered({ ReadAccess: ['team-a'] });
    await run(h.event('Update', h.registrationProps(), { PhysicalResourceId: id, OldResourceProperties: h.registrationProps({ ReadAccess: ['team-a'] }) }));
    expect(h.emulator.accounts.get(id)!.readAccess).toBeNull();
  });

  test('a rename keeps the teams under both readings of PUT (omitted fields kept, or cleared)', async () => {
    await h.stop();
    h = await Harness.start(SCALE, { putClearsOmittedAccess: true });
    const id = await registered({ ReadAccess: ['team-a'] });
    await run(h.event('Update', h.registrationProps({ AccountName: 'renamed', ReadAccess: ['team-a'] }),
      { PhysicalResourceId: id, OldResourceProperties: h.registrationProps({ ReadAccess: ['team-a'] }) }));
    expect(h.emulator.accounts.get(id)).toMatchObject({ name: 'renamed', readAccess: ['team/team-a'] });
  });

  test('a change of the role ARN is verified and applied in place', async () => {
    const id = await registered();
    const newRole = 'arn:aws:iam::111122223333:role/cloudcraft-v2';
    h.emulator.addRole(newRole, { externalId: EXTERNAL_ID });
    const { answer } = await run(h.event('Update', h.registrationProps({ RoleArn: newRole }), { PhysicalResourceId: id, OldResourceProperties: h.registrationProps() }));
    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: id });
    expect(h.emulator.accounts.get(id)!.roleArn).toBe(newRole);
  });

  test('nothing Cloudcraft stores changed (verification region only): no call', async () => {
    const id = await registered();
    const { answer } = await run(h.event('Update', h.registrationProps({ Region: 'eu-west-1' }), { PhysicalResourceId: id, OldResourceProperties: h.registrationProps() }));
    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: id, Data: { CloudcraftAccountId: id } });
    expect(h.emulator.calls).toHaveLength(0);
  });

  test('404 on update (removed by hand in Cloudcraft): registered again under a new physical ID', async () => {
    const id = await registered();
    h.emulator.accounts.delete(id);
    const { answer } = await run(h.event('Update', h.registrationProps({ AccountName: 'renamed' }), { PhysicalResourceId: id, OldResourceProperties: h.registrationProps() }));
    expect(answer.Status).toBe('SUCCESS');
    expect(answer.PhysicalResourceId).not.toBe(id);
    expect(calls()).toEqual(['PUT /aws/account/{id} 404', 'GET /aws/account 200', 'POST /aws/account 201']);
    expect(h.emulator.registrationsOf(ROLE_ARN)).toEqual([expect.objectContaining({ id: answer.PhysicalResourceId, name: 'renamed' })]);
  });

  test('a new API URL cannot be applied in place: a new registration, new physical ID', async () => {
    const id = await registered();
    const other = await Harness.start(SCALE);
    try {
      const { answer } = await run(h.event('Update', h.registrationProps({ ApiUrl: other.emulator.url }), { PhysicalResourceId: id, OldResourceProperties: h.registrationProps() }));
      expect(answer.Status).toBe('SUCCESS');
      expect(answer.PhysicalResourceId).not.toBe(id);
      expect(other.emulator.registrationsOf(ROLE_ARN)).toHaveLength(1);
      expect(h.emulator.calls).toHaveLength(0); // the old one is deleted by CloudFormation's Delete, with the old properties
    } finally {
      await other.stop();
    }
  });

  test('an Update whose old properties are of an unknown older shape PUTs everything', async () => {
    const id = await registered();
    const { answer } = await run(h.event('Update', h.registrationProps(), { PhysicalResourceId: id, OldResourceProperties: { ServiceToken: 'x', SomethingOld: 'y' } }));
    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: id });
    expect(calls()).toEqual(['PUT /aws/account/{id} 200']);
  });
});

describe('Delete', () => {
  test('DELETE once; gone from Cloudcraft', async () => {
    const created = await run(create());
    h.emulator.calls.length = 0;
    const { answer } = await run(h.event('Delete', h.registrationProps(), { PhysicalResourceId: created.answer.PhysicalResourceId }));
    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: created.answer.PhysicalResourceId });
    expect(calls()).toEqual(['DELETE /aws/account/{id} 204']);
    expect(h.emulator.accounts.size).toBe(0);
  });

  test('404 on delete (already gone) counts as done', async () => {
    const { answer } = await run(h.event('Delete', h.registrationProps(), { PhysicalResourceId: '2b8c1f7e-0d4a-4c3b-9e1f-5a6b7c8d9e0f' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(calls()).toEqual(['DELETE /aws/account/{id} 404']);
  });

  test('500 on delete is retried', async () => {
    const created = await run(create());
    h.emulator.inject({ method: 'DELETE', status: 500, body: { error: 'oops', reason: 'internal_server_error', code: 500 } });
    const { answer } = await run(h.event('Delete', h.registrationProps(), { PhysicalResourceId: created.answer.PhysicalResourceId }));
    expect(answer.Status).toBe('SUCCESS');
    expect(h.emulator.accounts.size).toBe(0);
  });

  test('RETAIN: no call, the registration stays', async () => {
    const created = await run(create());
    h.emulator.calls.length = 0;
    const { answer } = await run(h.event('Delete', h.registrationProps({ RemovalPolicy: 'retain' }), { PhysicalResourceId: created.answer.PhysicalResourceId }));
    expect(answer.Status).toBe('SUCCESS');
    expect(h.emulator.calls).toHaveLength(0);
    expect(h.emulator.accounts.size).toBe(1);
  });

  test('failed create, then delete: no call (nothing was registered)', async () => {
    h.secrets.secrets.set(SECRET_ARN, 'wrong-key-wrong-key-wrong-key-wrong-key-000=');
    const failed = await run(create());
    expect(failed.answer.Status).toBe('FAILED');
    h.emulator.calls.length = 0;
    const { answer } = await run(h.event('Delete', h.registrationProps(), { PhysicalResourceId: failed.answer.PhysicalResourceId }));
    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'cloudcraft-unregistered' });
    expect(h.emulator.calls).toHaveLength(0);
    expect(h.secrets.reads).toHaveLength(1); // not even the key is read
  });

  test('rollback of an adopted registration leaves it in place', async () => {
    const existing = h.emulator.seedAccount({ name: 'production', roleArn: ROLE_ARN });
    const adopted = await run(create());
    h.emulator.calls.length = 0;
    const { answer } = await run(h.event('Delete', h.registrationProps(), { PhysicalResourceId: adopted.answer.PhysicalResourceId }));
    expect(answer.Status).toBe('SUCCESS');
    expect(h.emulator.calls).toHaveLength(0);
    expect(h.emulator.accounts.has(existing.id)).toBe(true);
  });

  test('an adopted registration is removed when the user opted in', async () => {
    h.emulator.seedAccount({ name: 'production', roleArn: ROLE_ARN });
    const adopted = await run(create({ RemoveAdopted: 'true' }));
    const { answer } = await run(h.event('Delete', h.registrationProps({ RemoveAdopted: 'true' }), { PhysicalResourceId: adopted.answer.PhysicalResourceId }));
    expect(answer.Status).toBe('SUCCESS');
    expect(h.emulator.accounts.size).toBe(0);
  });

  test('403 on delete fails with the privileges reason (the stack shows why)', async () => {
    const created = await run(create());
    h.emulator.users.splice(0, 1, { key: API_KEY, externalId: EXTERNAL_ID, role: 'viewer' });
    const { answer } = await run(h.event('Delete', h.registrationProps(), { PhysicalResourceId: created.answer.PhysicalResourceId }));
    expect(answer.Status).toBe('FAILED');
    expect(answer.PhysicalResourceId).toBe(created.answer.PhysicalResourceId);
    expect(answer.Reason).toMatch(/refused removing the AWS account \(403/);
    expect(h.emulator.accounts.size).toBe(1);
  });
});

describe('account names from a pattern (organization members)', () => {
  const named = (extra: Record<string, unknown> = {}) => {
    const props = h.registrationProps({ AccountNamePattern: '{alias}', ...extra });
    delete props.AccountName;
    return props;
  };

  test('{alias} is the account alias, read once with iam:ListAccountAliases', async () => {
    h.secrets.aliases = ['acme-prod'];
    const { answer } = await run(h.event('Create', named({ AccountNamePattern: 'aws/{alias}' })));
    expect(answer.Status).toBe('SUCCESS');
    expect(h.emulator.registrationsOf(ROLE_ARN)[0].name).toBe('aws/acme-prod');
    expect(h.secrets.aliasReads).toBe(1);
  });

  test('an account without an alias is named aws-<account ID>, not a bare number', async () => {
    const { answer } = await run(h.event('Create', named()));
    expect(answer.Status).toBe('SUCCESS');
    expect(h.emulator.registrationsOf(ROLE_ARN)[0].name).toBe('aws-111122223333');
  });

  test('a name given for the account ID wins, and no alias is read', async () => {
    const { answer } = await run(h.event('Create', named({ AccountNames: JSON.stringify({ 111122223333: 'Payments (prod)' }) })));
    expect(answer.Status).toBe('SUCCESS');
    expect(h.emulator.registrationsOf(ROLE_ARN)[0].name).toBe('Payments (prod)');
    expect(h.secrets.aliasReads).toBe(0);
  });

  test('an Update that changes nothing the name depends on makes no Cloudcraft call', async () => {
    h.secrets.aliases = ['acme-prod'];
    const created = await run(h.event('Create', named()));
    h.emulator.calls.length = 0;
    const { answer } = await run(h.event('Update', named({ Region: 'eu-west-1' }), { PhysicalResourceId: created.answer.PhysicalResourceId, OldResourceProperties: named() }));
    expect(answer.Status).toBe('SUCCESS');
    expect(h.emulator.calls).toHaveLength(0);
  });

  test('Delete reads no alias', async () => {
    const created = await run(h.event('Create', named()));
    const reads = h.secrets.aliasReads;
    await run(h.event('Delete', named(), { PhysicalResourceId: created.answer.PhysicalResourceId }));
    expect(h.secrets.aliasReads).toBe(reads);
    expect(h.emulator.accounts.size).toBe(0);
  });

  test('the alias cannot be read: FAILED with the reason, nothing registered', async () => {
    h.secrets.aliasDenied = true;
    const { answer } = await run(h.event('Create', named()));
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(/Cannot read the account alias .*iam:ListAccountAliases.*AccessDenied/);
    expect(h.emulator.accounts.size).toBe(0);
  });
});

describe('events from older property shapes', () => {
  test('Delete carrying an old shape (no SchemaVersion, RemovalPolicy, RemoveAdopted; teams as a string) still works', async () => {
    const created = await run(create());
    const old = { ServiceToken: 'x', ApiUrl: h.emulator.url, ApiKeySecretArn: SECRET_ARN, Name: 'production', RoleArn: ROLE_ARN, ReadAccess: 'team-a,team-b' };
    const { answer } = await run(h.event('Delete', old, { PhysicalResourceId: created.answer.PhysicalResourceId }));
    expect(answer.Status).toBe('SUCCESS');
    expect(h.emulator.accounts.size).toBe(0);
  });

  test('booleans as real booleans and teams as a JSON string are accepted', async () => {
    const { answer } = await run(create({ RemoveAdopted: false, ReadAccess: '["team-a"]' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(h.emulator.registrationsOf(ROLE_ARN)[0].readAccess).toEqual(['team/team-a']);
  });
});

describe('iamParameters', () => {
  test('Create reads the external ID and Cloudcraft\'s AWS account with one call; Delete calls nothing', async () => {
    const props = { ServiceToken: 'x', ApiUrl: h.emulator.url, ApiKeySource: 'secretsmanager', ApiKeyId: SECRET_ARN };
    const created = await run(h.event('Create', props, { ResourceType: 'Custom::CloudcraftIamParameters' }));
    expect(created.answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'cloudcraft-iam-parameters', Data: { ExternalId: EXTERNAL_ID, AccountId: '968898580625' } });
    expect(calls()).toEqual(['GET /aws/account/iamParameters 200']);
    const deleted = await run(h.event('Delete', props, { ResourceType: 'Custom::CloudcraftIamParameters', PhysicalResourceId: 'cloudcraft-iam-parameters' }));
    expect(deleted.answer.Status).toBe('SUCCESS');
    expect(h.emulator.calls).toHaveLength(1);
  });
});

describe('the answers themselves', () => {
  test('the API key appears in no log line and no answer', () => {
    const everything = JSON.stringify(everyAnswer.map(a => ({ answers: a.answers, logs: a.logs })));
    expect(everything.length).toBeGreaterThan(10_000);
    expect(everything).not.toContain(API_KEY);
    expect(everything).not.toContain(API_KEY.slice(0, 20));
  });
});

afterEach(() => {
  for (const put of h.responses.puts) {
    expect(put.contentType).toBe('');
    expect(put.bytes).toBeLessThan(4096);
    expect(put.body.Reason.length).toBeLessThanOrEqual(1000);
  }
});
