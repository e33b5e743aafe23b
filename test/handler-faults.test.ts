/**
 * The fault matrix, on virtual time: the handler (TypeScript source, built with createHandler) against the Cloudcraft
 * emulator in process, an in-memory key store, and a recorder of the answers to CloudFormation, all on one
 * VirtualClock. Each scenario asserts the answer (status, physical ID, reason), the calls the emulator saw, and its
 * final state (no duplicate, no orphan). Every test builds its own harness; after each, every answer is checked
 * for shape and size, and every log line and answer for the key and any 8-character fragment of it.
 */
import { IN_PROCESS_URL, CloudcraftEmulator } from './support/cloudcraft-emulator';
import {
  API_KEY, EXTERNAL_ID, FIFTEEN_MINUTES, Invocation, ROLE_ARN, SECRET_ARN, STACK_ID, VirtualHarness,
} from './support/virtual-harness';
import { Transport, TransportError } from '../lib/runtime/http';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const OTHER_EXTERNAL_ID = '11111111-2222-4333-8444-555555555555';
let h: VirtualHarness;

beforeEach(() => {
  h = new VirtualHarness();
});
afterEach(() => {
  h.checkInvariants();
});

async function run(event: any, remainingMs = FIFTEEN_MINUTES): Promise<Invocation> {
  const result = await h.invoke(event, remainingMs);
  // Whatever happened: exactly one answer, to this request, in time.
  expect(result.answers).toHaveLength(1);
  expect(result.answer.RequestId).toBe(event.RequestId);
  expect(result.answeredAfterMs).toBeLessThanOrEqual(remainingMs);
  return result;
}

function create(overrides: Record<string, unknown> = {}) {
  return h.event('Create', h.registrationProps(overrides));
}

const calls = () => h.emulator.calls.map(c => `${c.method} ${c.path.replace(/^\/aws\/account\/(?!iamParameters$).+$/, '/aws/account/{id}')} ${c.status}`);

/** Routes other base URLs to emulators (another host name of the same installation, or another installation). */
/** Other hosts for the API, reached in process; the handler may call them (its stack's resources name them). */
function route(hosts: Record<string, CloudcraftEmulator>): void {
  for (const base of Object.keys(hosts)) h.apiUrls.add(base);
  h.wrapTransport = next => async (request, signal) => {
    for (const [base, emulator] of Object.entries(hosts)) {
      if (request.url.startsWith(base)) return emulator.transport()({ ...request, url: IN_PROCESS_URL + request.url.slice(base.length) }, signal);
    }
    return next(request, signal);
  };
}

describe('Create', () => {
  test('happy path: list, POST, list; physical ID is the Cloudcraft account ID', async () => {
    const { answer } = await run(create({ ReadAccess: ['team-a'], WriteAccess: ['team-b'], Region: 'eu-west-1' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(answer.PhysicalResourceId).toMatch(UUID);
    expect(answer.Data).toEqual({ RegistrationId: answer.PhysicalResourceId, RoleArn: ROLE_ARN, Adopted: 'false' });
    expect(calls()).toEqual(['GET /aws/account 200', 'POST /aws/account 201', 'GET /aws/account 200']);
    const [account] = h.emulator.registrationsOf(ROLE_ARN);
    expect(account).toMatchObject({ id: answer.PhysicalResourceId, name: 'production', readAccess: ['team/team-a'], writeAccess: ['team/team-b'], region: 'eu-west-1' });
    expect(h.emulator.calls[1].authorization).toBe(`Bearer ${API_KEY}`);
  });

  test('team access not given: readAccess and writeAccess are left out of the POST (never null)', async () => {
    await run(create());
    expect(h.emulator.callsTo('POST')[0].body).toEqual({ name: 'production', roleArn: ROLE_ARN });
  });

  test('401: the key is rejected; the reason names the secret, never the key', async () => {
    const wrong = 'bm90LXRoZS1yaWdodC1rZXktbm90LXRoZS1yaWdodDA=';
    h.secrets.set(SECRET_ARN, wrong);
    h.mustNotLeak.add(wrong);
    const { answer } = await run(create());
    expect(answer.Status).toBe('FAILED');
    expect(answer.PhysicalResourceId).toBe('cloudcraft-unregistered');
    expect(answer.Reason).toContain('Cloudcraft rejected the API key (401');
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
    expect(answer.PhysicalResourceId).toBe('cloudcraft-unregistered'); // refused: nothing registered
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
    h.emulator.addRole(ROLE_ARN, { externalId: OTHER_EXTERNAL_ID });
    const { answer, tookMs } = await run(create());
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(/could not verify the role arn:aws:iam::111122223333:role\/cloudcraft .*external ID must be the one of the Cloudcraft user who owns the API key/);
    expect(tookMs).toBeGreaterThanOrEqual(90_000);
    expect(tookMs).toBeLessThan(300_000);
    expect(h.emulator.accounts.size).toBe(0);
  });

  test('400 from an SCP-blocked verification region: the reason points at verificationRegion; another region works', async () => {
    h = new VirtualHarness({ blockedRegions: ['us-east-1'] });
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
    expect(answer.Reason).toMatch(/Cloudcraft rejected the request while registering the AWS account \(400: "Invalid roleArn/);
    expect(h.emulator.callsTo('POST')).toHaveLength(1);
  });

  test('the reason quotes Cloudcraft\'s explanation (message and reason), not only its error word', async () => {
    h.emulator.inject({ method: 'POST', status: 400, body: { error: 'Bad Request', message: 'name must be at most 64 characters', reason: 'invalid_property', code: 400 } });
    const { answer } = await run(create());
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toContain('Bad Request (name must be at most 64 characters; invalid_property)');
  });

  test('429 with Retry-After in seconds is honoured', async () => {
    h.emulator.inject({ method: 'POST', status: 429, body: { error: 'Too Many Requests', reason: 'too_many_requests', code: 429 }, headers: { 'Retry-After': '7' } });
    const { answer } = await run(create());
    expect(answer.Status).toBe('SUCCESS');
    const [limited, accepted] = h.emulator.callsTo('POST');
    expect(limited.status).toBe(429);
    expect(accepted.status).toBe(201);
    expect(accepted.at - limited.at).toBeGreaterThanOrEqual(7_000);
    expect(h.emulator.registrationsOf(ROLE_ARN)).toHaveLength(1);
  });

  test('429 with Retry-After as an HTTP date: retried after the date', async () => {
    const until = h.clock.now() + 2_000;
    h.emulator.inject({ method: 'POST', status: 429, body: { error: 'Too Many Requests', reason: 'too_many_requests', code: 429 }, headers: { 'Retry-After': new Date(until).toUTCString() } });
    const { answer } = await run(create());
    expect(answer.Status).toBe('SUCCESS');
    const [limited, accepted] = h.emulator.callsTo('POST');
    expect([limited.status, accepted.status]).toEqual([429, 201]);
    expect(accepted.at).toBeGreaterThanOrEqual(until);
  });

  test('429 without Retry-After waits as if the stricter limit (20 a minute) held', async () => {
    h.emulator.inject({ method: 'GET', path: '/aws/account', status: 429, body: { error: 'Too Many Requests', reason: 'too_many_requests', code: 429 } });
    const { answer } = await run(create());
    expect(answer.Status).toBe('SUCCESS');
    const [limited, next] = h.emulator.callsTo('GET', '/aws/account');
    expect(next.at - limited.at).toBeGreaterThanOrEqual(60_000);
  });

  test('the emulator\'s own rate limit (Retry-After) is respected by back-to-back creates', async () => {
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
    expect(answer.Reason).toMatch(/kept rate-limiting the API key \(429/);
    expect(tookMs).toBeLessThan(60_000);
    expect(h.emulator.accounts.size).toBe(0);
  });

  test.each([500, 502, 503, 408])('%i on the list is retried', async (status) => {
    h.emulator.inject({ method: 'GET', path: '/aws/account', status, body: { error: 'Server Error', reason: 'internal_server_error', code: status }, times: 2 });
    const { answer } = await run(create());
    expect(answer.Status).toBe('SUCCESS');
    expect(calls()).toEqual([`GET /aws/account ${status}`, `GET /aws/account ${status}`, 'GET /aws/account 200', 'POST /aws/account 201', 'GET /aws/account 200']);
  });

  test('a reset connection before the POST reached Cloudcraft: settled by a list, posted again, one registration', async () => {
    h.emulator.inject({ method: 'POST', reset: true });
    const { answer } = await run(create());
    expect(answer.Status).toBe('SUCCESS');
    expect(calls()).toEqual(['GET /aws/account 200', 'POST /aws/account reset', 'GET /aws/account 200', 'POST /aws/account 201', 'GET /aws/account 200']);
    expect(h.emulator.registrationsOf(ROLE_ARN)).toHaveLength(1);
  });

  test('a hung API call times out and is retried', async () => {
    h.emulator.inject({ method: 'GET', hangMs: Infinity });
    const { answer } = await run(create());
    expect(answer.Status).toBe('SUCCESS');
    expect(calls()).toEqual(['GET /aws/account hang', 'GET /aws/account 200', 'POST /aws/account 201', 'GET /aws/account 200']);
  });

  test('an API that hangs on every call: FAILED before the deadline, nothing registered', async () => {
    h.emulator.inject({ hangMs: Infinity, times: 1000 });
    const { answer, tookMs } = await run(create(), 60_000);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(/no answer from https:\/\/cloudcraft\.emulator\.test while listing AWS accounts after \d+ attempts/);
    expect(tookMs).toBeLessThan(60_000);
  });

  test('a 15-minute deadline runs on virtual time: the handler works until it and answers FAILED before it', async () => {
    h.emulator.inject({ hangMs: Infinity, times: 1000 });
    const { answer, tookMs } = await run(create());
    expect(answer.Status).toBe('FAILED');
    expect(tookMs).toBeGreaterThan(14 * 60_000);
    expect(tookMs).toBeLessThan(15 * 60_000);
  });

  test.each([
    ['a 200 with an HTML body', { status: 200, text: '<html>proxy</html>' }],
    ['a 502 with an HTML body', { status: 502, text: '<html>Bad Gateway</html>' }],
  ])('%s on the list is retried', async (_name, fault) => {
    h.emulator.inject({ method: 'GET', ...fault });
    const { answer } = await run(create());
    expect(answer.Status).toBe('SUCCESS');
    expect(h.emulator.callsTo('GET', '/aws/account')).toHaveLength(3); // the failed one, the first list, the list after the POST
  });

  test('the ResponseURL fails once: the answer is PUT again', async () => {
    h.answerFaults.push('fail');
    const { answer } = await run(create());
    expect(answer.Status).toBe('SUCCESS');
  });

  test('the ResponseURL fails for minutes (5xx): the answer is PUT again until it lands, within the function\'s time', async () => {
    h.answerFaults.push(...Array(20).fill('fail'));
    const { answer, answeredAfterMs } = await run(create());
    expect(answer.Status).toBe('SUCCESS');
    expect(h.answerFaults).toHaveLength(0);
    expect(answeredAfterMs).toBeGreaterThan(60_000);
    expect(answeredAfterMs).toBeLessThan(FIFTEEN_MINUTES);
  });

  test('the ResponseURL refuses (403, an expired URL): three attempts, then the handler stops', async () => {
    h.answerFaults.push(...Array(10).fill('forbidden'));
    const { answers, logs } = await h.invoke(create());
    expect(answers).toHaveLength(0);
    expect(h.answerFaults).toHaveLength(7);
    expect(logs.filter(l => /answer to CloudFormation failed/.test(l))).toHaveLength(3);
    expect(logs.some(l => /could not answer CloudFormation/.test(l))).toBe(true);
  });

  test('the ResponseURL hangs twice: the time kept back covers every answer attempt, the third lands before the deadline', async () => {
    h.emulator.inject({ hangMs: Infinity, times: 1000 });
    h.answerFaults.push('hang', 'hang');
    const { answer, answeredAfterMs } = await run(create(), 120_000);
    expect(answer.Status).toBe('FAILED');
    expect(answeredAfterMs).toBeLessThan(120_000);
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

describe('never more than one registration', () => {
  test('a POST that Cloudcraft completes 20 s after the client gave up: settled by a list, exactly one registration', async () => {
    h.emulator.inject({ method: 'POST', actionDelayMs: 35_000 }); // the client times out at 15 s
    const { answer } = await run(create());
    expect(answer.Status).toBe('SUCCESS');
    const accounts = h.emulator.registrationsOf(ROLE_ARN);
    expect(accounts).toHaveLength(1);
    expect(answer.PhysicalResourceId).toBe(accounts[0].id); // made by this resource: a plain ID
    expect(calls()).toEqual(['GET /aws/account 200', 'POST /aws/account hang', 'GET /aws/account 200']);
    // The list came after the POST landed.
    expect(h.emulator.calls[2].at).toBeGreaterThanOrEqual(h.emulator.calls[1].at + 35_000);
  });

  test.each([
    ['an HTML page', { text: '<html>Welcome</html>' }],
    ['an empty body', { text: '' }],
    ['JSON without an account', { body: { ok: true } }],
  ])('a POST answered 2xx with %s may have registered: looked for before posting again', async (_name, answer) => {
    h.emulator.inject({ method: 'POST', status: 200, afterAction: true, times: 5, ...answer });
    const result = await run(create());
    expect(result.answer.Status).toBe('SUCCESS');
    expect(h.emulator.callsTo('POST')).toHaveLength(1);
    expect(h.emulator.registrationsOf(ROLE_ARN)).toEqual([expect.objectContaining({ id: result.answer.PhysicalResourceId })]);
  });

  test('503 after the POST was done: looked for before posting again, no duplicate', async () => {
    h.emulator.inject({ method: 'POST', status: 503, text: '<html>Service Unavailable</html>', afterAction: true });
    const { answer } = await run(create());
    expect(answer.Status).toBe('SUCCESS');
    const [account] = h.emulator.registrationsOf(ROLE_ARN);
    expect(answer.PhysicalResourceId).toBe(account.id);
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

  test('the same Create delivered twice, one after the other: one registration, the same physical ID', async () => {
    const event = create();
    const [first] = await h.invokeAll([event]);
    const [second] = await h.invokeAll([event]);
    expect(first.answer.Status).toBe('SUCCESS');
    expect(second.answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: first.answer.PhysicalResourceId, Data: { Adopted: 'false' } });
    expect(h.emulator.registrationsOf(ROLE_ARN)).toHaveLength(1);
    expect(h.emulator.callsTo('POST')).toHaveLength(1);
  });

  test('the same Create delivered twice at once: one registration, the same physical ID in both answers', async () => {
    const event = create();
    const [a, b] = await h.invokeAll([event, event]);
    expect(a.answer.Status).toBe('SUCCESS');
    expect(b.answer.Status).toBe('SUCCESS');
    expect(b.answer.PhysicalResourceId).toBe(a.answer.PhysicalResourceId);
    expect(h.emulator.registrationsOf(ROLE_ARN)).toEqual([expect.objectContaining({ id: a.answer.PhysicalResourceId })]);
    expect(h.emulator.callsTo('POST')).toHaveLength(2);
    expect(h.emulator.callsTo('DELETE')).not.toHaveLength(0);
  });

  test('a Create that fails after a POST that may have landed answers pending:<ms>; the rollback Delete removes what it made', async () => {
    const unrelated = h.emulator.seedAccount({ name: 'other', roleArn: 'arn:aws:iam::444455556666:role/cloudcraft' });
    h.emulator.inject({ method: 'POST', actionDelayMs: 20_000 }); // lands after the client gave up, before the deadline
    const startedAt = h.clock.now();
    const failed = await run(create(), 60_000);
    expect(failed.answer.Status).toBe('FAILED');
    expect(failed.answer.PhysicalResourceId).toBe(`pending:${startedAt}`);
    expect(failed.answer.Reason).toMatch(/rollback removes/);
    expect(h.emulator.registrationsOf(ROLE_ARN)).toHaveLength(1); // the orphan, until the rollback
    const rollback = await run(h.event('Delete', h.registrationProps(), { PhysicalResourceId: failed.answer.PhysicalResourceId }));
    expect(rollback.answer.Status).toBe('SUCCESS');
    expect(h.emulator.registrationsOf(ROLE_ARN)).toHaveLength(0);
    expect(h.emulator.accounts.has(unrelated.id)).toBe(true);
  });

  test('a Create whose every POST was refused answers cloudcraft-unregistered (no rollback call)', async () => {
    h.emulator.addRole(ROLE_ARN, { externalId: OTHER_EXTERNAL_ID });
    const failed = await run(create(), 60_000);
    expect(failed.answer.PhysicalResourceId).toBe('cloudcraft-unregistered');
  });
});

describe('adoption', () => {
  test('a registration made before the stack is adopted: name and team access taken over, said in the log and Data', async () => {
    const existing = h.emulator.seedAccount({ name: 'added by hand', roleArn: ROLE_ARN, readAccess: ['team/x'] });
    const { answer, logs } = await run(create({ ReadAccess: ['team-a'] }));
    expect(answer.Status).toBe('SUCCESS');
    expect(answer.PhysicalResourceId).toMatch(new RegExp(`^adopted:${existing.id}:[\\w-]+$`));
    expect(answer.Data).toEqual({ RegistrationId: existing.id, RoleArn: ROLE_ARN, Adopted: 'true', PreviousName: 'added by hand' });
    expect(calls()).toEqual(['GET /aws/account 200', 'PUT /aws/account/{id} 200']);
    expect(h.emulator.registrationsOf(ROLE_ARN)).toEqual([expect.objectContaining({ id: existing.id, name: 'production', readAccess: ['team/team-a'], writeAccess: null })]);
    expect(logs.some(l => JSON.parse(l).level === 'warn' && /adopting/.test(l) && l.includes('added by hand'))).toBe(true);
  });

  test('a very long name set by hand: PreviousName is capped and the answer stays under 4 KB; too long to restore, the Delete leaves it', async () => {
    const long = 'n'.repeat(5_000);
    const existing = h.emulator.seedAccount({ name: long, roleArn: ROLE_ARN, externalId: EXTERNAL_ID });
    const { answer } = await run(create());
    expect(answer.Status).toBe('SUCCESS');
    expect(answer.Data.PreviousName).toHaveLength(256);
    expect(Buffer.byteLength(JSON.stringify(answer))).toBeLessThan(4096);
    // Too long to carry in the physical ID: the Delete leaves the registration (adopted, original unknown).
    await run(h.event('Delete', h.registrationProps(), { PhysicalResourceId: answer.PhysicalResourceId }));
    expect(h.emulator.accounts.has(existing.id)).toBe(true);
  });

  test.each([false, true])('Delete (or a rollback) of an adopted registration restores its name and the team access the template managed (PUT clears omitted lists: %s)', async (putClearsOmittedAccess) => {
    h = new VirtualHarness({ putClearsOmittedAccess });
    const existing = h.emulator.seedAccount({ name: 'added by hand', roleArn: ROLE_ARN, readAccess: ['team/x'] });
    const adopted = await run(create({ WriteAccess: ['team-w'] }));
    expect(h.emulator.accounts.get(existing.id)).toMatchObject({ name: 'production', readAccess: ['team/x'], writeAccess: ['team/team-w'] });
    h.emulator.calls.length = 0;
    const { answer } = await run(h.event('Delete', h.registrationProps({ WriteAccess: ['team-w'] }), { PhysicalResourceId: adopted.answer.PhysicalResourceId }));
    expect(answer.Status).toBe('SUCCESS');
    // Read access was never the template's: the PUT sends back what the registration has, so it is kept either way.
    expect(calls()).toEqual(['GET /aws/account 200', 'PUT /aws/account/{id} 200']);
    expect(h.emulator.accounts.get(existing.id)).toMatchObject({ name: 'added by hand', readAccess: ['team/x'], writeAccess: [] });
  });

  test('restoring an adopted registration whose team lists were both managed: one PUT', async () => {
    const existing = h.emulator.seedAccount({ name: 'added by hand', roleArn: ROLE_ARN, readAccess: ['team/x'] });
    const managed = { ReadAccess: ['team-r'], WriteAccess: [] };
    const adopted = await run(create(managed));
    h.emulator.calls.length = 0;
    await run(h.event('Delete', h.registrationProps(managed), { PhysicalResourceId: adopted.answer.PhysicalResourceId }));
    expect(calls()).toEqual(['PUT /aws/account/{id} 200']);
    expect(h.emulator.accounts.get(existing.id)).toMatchObject({ name: 'added by hand', readAccess: ['team/x'], writeAccess: [] });
  });

  test('a Create that fails while adopting (its PUT may have applied) answers the adopted ID: the rollback restores the original', async () => {
    const existing = h.emulator.seedAccount({ name: 'added by hand', roleArn: ROLE_ARN, externalId: EXTERNAL_ID, readAccess: ['team/x'] });
    h.emulator.inject({ method: 'PUT', status: 503, text: 'unavailable', afterAction: true, times: 1_000 });
    const failed = await run(create({ ReadAccess: ['team-y'] }), 60_000);
    expect(failed.answer.Status).toBe('FAILED');
    expect(failed.answer.PhysicalResourceId).toMatch(/^adopted:/);
    expect(h.emulator.accounts.get(existing.id)).toMatchObject({ name: 'production', readAccess: ['team/team-y'] });
    h.emulator.clearFaults();
    const rollback = await run(h.event('Delete', h.registrationProps({ ReadAccess: ['team-y'] }), { PhysicalResourceId: failed.answer.PhysicalResourceId }));
    expect(rollback.answer.Status).toBe('SUCCESS');
    expect(h.emulator.accounts.get(existing.id)).toMatchObject({ name: 'added by hand', readAccess: ['team/x'] });
  });

  test('an adopted registration that already matched: no PUT on create, no call on delete', async () => {
    const existing = h.emulator.seedAccount({ name: 'production', roleArn: ROLE_ARN });
    const adopted = await run(create());
    expect(adopted.answer.PhysicalResourceId.startsWith(`adopted:${existing.id}`)).toBe(true);
    expect(calls()).toEqual(['GET /aws/account 200']);
    h.emulator.calls.length = 0;
    const { answer } = await run(h.event('Delete', h.registrationProps(), { PhysicalResourceId: adopted.answer.PhysicalResourceId }));
    expect(answer.Status).toBe('SUCCESS');
    expect(h.emulator.calls).toHaveLength(0);
    expect(h.emulator.accounts.has(existing.id)).toBe(true);
  });

  test('with duplicates already there, adopts the oldest and leaves the others alone', async () => {
    const older = h.emulator.seedAccount({ name: 'a', roleArn: ROLE_ARN, createdAt: '2024-01-01T00:00:00.000Z' });
    h.emulator.seedAccount({ name: 'b', roleArn: ROLE_ARN, createdAt: '2025-01-01T00:00:00.000Z' });
    const { answer } = await run(create());
    expect(answer.PhysicalResourceId.startsWith(`adopted:${older.id}:`)).toBe(true);
    expect(h.emulator.registrationsOf(ROLE_ARN)).toHaveLength(2);
  });

  test('an adopted registration is removed when the user opted in', async () => {
    h.emulator.seedAccount({ name: 'production', roleArn: ROLE_ARN });
    const adopted = await run(create({ RemoveAdopted: 'true' }));
    const { answer } = await run(h.event('Delete', h.registrationProps({ RemoveAdopted: 'true' }), { PhysicalResourceId: adopted.answer.PhysicalResourceId }));
    expect(answer.Status).toBe('SUCCESS');
    expect(h.emulator.accounts.size).toBe(0);
  });

  test('a registration of the role made with another external ID is not adopted: FAILED with the reason, left untouched', async () => {
    const theirs = h.emulator.seedAccount({ name: 'theirs', roleArn: ROLE_ARN, externalId: OTHER_EXTERNAL_ID });
    const { answer } = await run(create());
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(new RegExp(`made with external ID ${OTHER_EXTERNAL_ID}, but the role trusts ${EXTERNAL_ID}.*not adopted`));
    expect(calls()).toEqual(['GET /aws/account 200']);
    expect(h.emulator.accounts.get(theirs.id)!.name).toBe('theirs');
  });

  test('events without ExternalId (older stacks) skip that check', async () => {
    const theirs = h.emulator.seedAccount({ name: 'production', roleArn: ROLE_ARN, externalId: OTHER_EXTERNAL_ID });
    const { answer } = await run(create({ ExternalId: undefined }));
    expect(answer.Status).toBe('SUCCESS');
    expect(answer.Data.RegistrationId).toBe(theirs.id);
  });
});

describe('API key', () => {
  test('SSM SecureString parameter', async () => {
    const name = 'arn:aws:ssm:us-east-1:111122223333:parameter/cloudcraft/api-key';
    h.parameters.set(name, API_KEY);
    const { answer } = await run(create({ ApiKeySource: 'ssm', ApiKeyId: name }));
    expect(answer.Status).toBe('SUCCESS');
    expect(h.reads).toEqual([{ source: 'ssm', id: name }]);
  });

  test('a JSON field of a secret', async () => {
    h.secrets.set(SECRET_ARN, JSON.stringify({ apiKey: API_KEY, other: 'x' }));
    const { answer } = await run(create({ ApiKeyField: 'apiKey' }));
    expect(answer.Status).toBe('SUCCESS');
  });

  test('access denied to the secret: FAILED with the secret named, no Cloudcraft call', async () => {
    h.denied.add(SECRET_ARN);
    const { answer } = await run(create());
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(/Cannot read the Cloudcraft API key from secret arn:aws:secretsmanager:.*: AccessDeniedException. The function's role/);
    expect(h.emulator.calls).toHaveLength(0);
  });

  test('a secret without the JSON field', async () => {
    const { answer } = await run(create({ ApiKeyField: 'apiKey' }));
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(/is not JSON, so field "apiKey" cannot be read/);
  });

  test('a key with a line break: refused before use, the secret named, the key in no reason or log line', async () => {
    h.secrets.set(SECRET_ARN, `${API_KEY}\nsecond-line-of-the-secret`);
    const { answer } = await run(create());
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(new RegExp(`key in secret ${SECRET_ARN.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} contains a line break`));
    expect(h.emulator.calls).toHaveLength(0);
  });

  test('a pretty-printed JSON secret read without jsonField: refused, says to give jsonField, leaks nothing', async () => {
    h.secrets.set(SECRET_ARN, JSON.stringify({ apiKey: API_KEY }, null, 2));
    const { answer } = await run(create());
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(/is a JSON document, not a key. Give jsonField/);
    expect(h.emulator.calls).toHaveLength(0);
  });

  test('the key echoed back in an error body is redacted from the reason and the logs', async () => {
    h.emulator.inject({ method: 'GET', status: 400, body: { error: 'Bad Request', message: `malformed token ${API_KEY.slice(4, 36)}`, code: 400 } });
    const { answer } = await run(create());
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toContain('malformed token [REDACTED]');
  });

  test('a local error (the request cannot be sent) fails at once with its cause, not retried as a network error', async () => {
    let attempts = 0;
    h.wrapTransport = (next: Transport): Transport => async (request, signal) => {
      if (!request.url.startsWith(IN_PROCESS_URL)) return next(request, signal);
      attempts++;
      throw new TransportError('local', 'the request could not be sent (an invalid header value or URL)');
    };
    const { answer, tookMs } = await run(create());
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(/could not be sent .*This is not a network problem/);
    expect(attempts).toBe(1);
    expect(tookMs).toBeLessThan(1_000);
  });

  test('an answer larger than the cap fails that call (not the function), without retrying', async () => {
    let attempts = 0;
    h.wrapTransport = (next: Transport): Transport => async (request, signal) => {
      if (!request.url.startsWith(IN_PROCESS_URL)) return next(request, signal);
      attempts++;
      throw new TransportError('too-large', 'the answer was longer than 16777216 bytes');
    };
    const { answer } = await run(create());
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(/was too large/);
    expect(attempts).toBe(1);
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
  });

  test('a rename without team access: one list, then a PUT that leaves out the lists the registration does not have', async () => {
    const id = await registered();
    await run(h.event('Update', h.registrationProps({ AccountName: 'renamed' }), { PhysicalResourceId: id, OldResourceProperties: h.registrationProps() }));
    expect(calls()).toEqual(['GET /aws/account 200', 'PUT /aws/account/{id} 200']);
    expect(h.emulator.callsTo('PUT')[0].body).toEqual({ name: 'renamed', roleArn: ROLE_ARN });
  });

  test.each([false, true])('team access shared in Cloudcraft by hand survives a rename when the template does not manage it (PUT clears omitted lists: %s)', async (putClearsOmittedAccess) => {
    h = new VirtualHarness({ putClearsOmittedAccess });
    const id = await registered();
    h.emulator.accounts.set(id, { ...h.emulator.accounts.get(id)!, readAccess: ['team/by-hand'] });
    await run(h.event('Update', h.registrationProps({ AccountName: 'renamed' }), { PhysicalResourceId: id, OldResourceProperties: h.registrationProps() }));
    expect(h.emulator.callsTo('PUT')[0].body).toEqual({ name: 'renamed', roleArn: ROLE_ARN, readAccess: ['team/by-hand'] });
    expect(h.emulator.accounts.get(id)).toMatchObject({ name: 'renamed', readAccess: ['team/by-hand'] });
  });

  test('removing team access from the template stops managing it (no call, the teams stay); [] unshares', async () => {
    const id = await registered({ ReadAccess: ['team-a'] });
    const teams = h.registrationProps({ ReadAccess: ['team-a'] });
    const left = await run(h.event('Update', h.registrationProps(), { PhysicalResourceId: id, OldResourceProperties: teams }));
    expect(left.answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: id });
    expect(h.emulator.calls).toHaveLength(0);
    expect(h.emulator.accounts.get(id)!.readAccess).toEqual(['team/team-a']);
    await run(h.event('Update', h.registrationProps({ ReadAccess: [] }), { PhysicalResourceId: id, OldResourceProperties: h.registrationProps() }));
    expect(h.emulator.callsTo('PUT')[0].body).toEqual({ name: 'production', roleArn: ROLE_ARN, readAccess: [] });
    expect(h.emulator.accounts.get(id)!.readAccess).toEqual([]);
  });

  test('a rename keeps the teams under both readings of PUT (omitted fields kept, or cleared)', async () => {
    h = new VirtualHarness({ putClearsOmittedAccess: true });
    const id = await registered({ ReadAccess: ['team-a'] });
    await run(h.event('Update', h.registrationProps({ AccountName: 'renamed', ReadAccess: ['team-a'] }),
      { PhysicalResourceId: id, OldResourceProperties: h.registrationProps({ ReadAccess: ['team-a'] }) }));
    expect(h.emulator.accounts.get(id)).toMatchObject({ name: 'renamed', readAccess: ['team/team-a'] });
  });

  test('PUT answered 200 with a body that is not JSON succeeds (the SDKs ignore it)', async () => {
    const id = await registered();
    h.emulator.inject({ method: 'PUT', status: 200, text: '<html>OK</html>', afterAction: true });
    const { answer } = await run(h.event('Update', h.registrationProps({ AccountName: 'renamed' }), { PhysicalResourceId: id, OldResourceProperties: h.registrationProps() }));
    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: id });
    expect(h.emulator.callsTo('PUT')).toHaveLength(1);
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
    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: id, Data: { RegistrationId: id } });
    expect(h.emulator.calls).toHaveLength(0);
  });

  test.each([
    'https://cloudcraft.emulator.test/',
    'https://CloudCraft.Emulator.TEST:443',
    'HTTPS://cloudcraft.emulator.test:443///',
  ])('an apiUrl only respelled (%s) keeps the registration and the physical ID, with no call', async (spelling) => {
    const id = await registered();
    const { answer } = await run(h.event('Update', h.registrationProps({ ApiUrl: spelling }), { PhysicalResourceId: id, OldResourceProperties: h.registrationProps() }));
    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: id });
    expect(h.emulator.calls).toHaveLength(0);
    expect(h.emulator.accounts.has(id)).toBe(true);
  });

  test('another host name of the same installation: found there, physical ID kept; its UPDATE_ROLLBACK keeps it too', async () => {
    const id = await registered();
    const alias = 'https://alias.emulator.test';
    route({ [alias]: h.emulator });
    const before = h.registrationProps();
    const after = h.registrationProps({ ApiUrl: alias });
    const updated = await run(h.event('Update', after, { PhysicalResourceId: id, OldResourceProperties: before }));
    expect(updated.answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: id });
    const rollback = await run(h.event('Update', before, { PhysicalResourceId: id, OldResourceProperties: after }));
    expect(rollback.answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: id });
    expect(calls()).toEqual(['GET /aws/account 200', 'GET /aws/account 200']);
    expect(h.emulator.registrationsOf(ROLE_ARN)).toEqual([expect.objectContaining({ id })]);
  });

  test('another installation: registered there under a new physical ID (CloudFormation deletes the old one)', async () => {
    const id = await registered();
    const other = new CloudcraftEmulator({ users: [{ key: API_KEY, externalId: EXTERNAL_ID }], clock: h.clock });
    other.addRole(ROLE_ARN, { externalId: EXTERNAL_ID });
    route({ 'https://gov.emulator.test': other });
    const { answer } = await run(h.event('Update', h.registrationProps({ ApiUrl: 'https://gov.emulator.test' }), { PhysicalResourceId: id, OldResourceProperties: h.registrationProps() }));
    expect(answer.Status).toBe('SUCCESS');
    expect(answer.PhysicalResourceId).not.toBe(id);
    expect(other.registrationsOf(ROLE_ARN)).toEqual([expect.objectContaining({ id: answer.PhysicalResourceId })]);
    expect(h.emulator.calls).toHaveLength(0);
  });

  test('404 on update (removed by hand in Cloudcraft): registered again under a new physical ID', async () => {
    const id = await registered();
    h.emulator.accounts.delete(id);
    const { answer } = await run(h.event('Update', h.registrationProps({ AccountName: 'renamed' }), { PhysicalResourceId: id, OldResourceProperties: h.registrationProps() }));
    expect(answer.Status).toBe('SUCCESS');
    expect(answer.PhysicalResourceId).not.toBe(id);
    // Absent from the list taken for the team lists; the PUT confirms (404); that list serves the registration.
    expect(calls()).toEqual(['GET /aws/account 200', 'PUT /aws/account/{id} 404', 'POST /aws/account 201', 'GET /aws/account 200']);
    expect(h.emulator.registrationsOf(ROLE_ARN)).toEqual([expect.objectContaining({ id: answer.PhysicalResourceId, name: 'renamed' })]);
  });

  test('a list that leaves the registration out is not evidence: the PUT finds it, nothing is registered anew', async () => {
    const id = await registered();
    h.wrapTransport = next => async (request, signal) => {
      const answer = await next(request, signal);
      if (request.method !== 'GET') return answer;
      const body = JSON.parse(answer.text);
      return { ...answer, text: JSON.stringify({ accounts: body.accounts.filter((a: { id: string }) => a.id !== id) }) };
    };
    const { answer } = await run(h.event('Update', h.registrationProps({ AccountName: 'renamed' }), { PhysicalResourceId: id, OldResourceProperties: h.registrationProps() }));
    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: id });
    expect(calls()).toEqual(['GET /aws/account 200', 'PUT /aws/account/{id} 200']);
    expect(h.emulator.registrationsOf(ROLE_ARN)).toEqual([expect.objectContaining({ id, name: 'renamed' })]);
  });

  test('an Update that registers anew and fails after a POST that may have landed removes what it made (its old ID stays)', async () => {
    const created = await run(create());
    const id = created.answer.PhysicalResourceId;
    h.emulator.accounts.delete(id); // removed by hand in Cloudcraft
    h.emulator.inject({ method: 'POST', status: 503, text: 'unavailable', afterAction: true });
    // The list after that POST is refused (a 4xx fails at once).
    let posted = false;
    let refused = 0;
    h.wrapTransport = next => async (request, signal) => {
      if (request.method === 'POST') posted = true;
      else if (posted && request.method === 'GET' && refused++ === 0) return { status: 400, headers: { 'content-type': 'application/json' }, text: '{"error":"bad request","code":400}' };
      return next(request, signal);
    };
    const renamed = h.registrationProps({ AccountName: 'renamed' });
    const failed = await run(h.event('Update', renamed, { PhysicalResourceId: id, OldResourceProperties: h.registrationProps() }));
    expect(failed.answer).toMatchObject({ Status: 'FAILED', PhysicalResourceId: id });
    // CloudFormation keeps the old physical ID of a failed Update: nothing else would ever remove the new one.
    expect(h.emulator.registrationsOf(ROLE_ARN)).toHaveLength(0);
    expect(failed.logs.some(l => /update: removed what its failed registration made/.test(l))).toBe(true);
  });

  test('an Update whose old properties are of an unknown older shape compares with Cloudcraft: PUT only what differs', async () => {
    const id = await registered();
    const unknown = { ServiceToken: 'x', SomethingOld: 'y' };
    const same = await run(h.event('Update', h.registrationProps(), { PhysicalResourceId: id, OldResourceProperties: unknown }));
    expect(same.answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: id });
    expect(calls()).toEqual(['GET /aws/account 200']);
    h.emulator.calls.length = 0;
    await run(h.event('Update', h.registrationProps({ AccountName: 'renamed' }), { PhysicalResourceId: id, OldResourceProperties: unknown }));
    expect(calls()).toEqual(['GET /aws/account 200', 'PUT /aws/account/{id} 200']);
    expect(h.emulator.accounts.get(id)!.name).toBe('renamed');
  });

  test('an adopted registration keeps its physical ID (and what to restore) across updates', async () => {
    h.emulator.seedAccount({ name: 'added by hand', roleArn: ROLE_ARN });
    const adopted = await run(create());
    const physicalId = adopted.answer.PhysicalResourceId;
    const { answer } = await run(h.event('Update', h.registrationProps({ AccountName: 'renamed' }), { PhysicalResourceId: physicalId, OldResourceProperties: h.registrationProps() }));
    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: physicalId, Data: { Adopted: 'true', PreviousName: 'added by hand' } });
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

  test('an account ID is an opaque string: one that is not a UUID is deleted too', async () => {
    const account = h.emulator.seedAccount({ id: 'Acct_01 not-a-uuid', name: 'production', roleArn: ROLE_ARN });
    const { answer } = await run(h.event('Delete', h.registrationProps(), { PhysicalResourceId: account.id }));
    expect(answer.Status).toBe('SUCCESS');
    expect(h.emulator.callsTo('DELETE')).toEqual([expect.objectContaining({ path: '/aws/account/Acct_01%20not-a-uuid', status: 204 })]);
    expect(h.emulator.accounts.size).toBe(0);
  });

  test('DELETE answered 200 with a body that is not JSON succeeds', async () => {
    const created = await run(create());
    h.emulator.inject({ method: 'DELETE', status: 200, text: 'deleted', afterAction: true });
    const { answer } = await run(h.event('Delete', h.registrationProps(), { PhysicalResourceId: created.answer.PhysicalResourceId }));
    expect(answer.Status).toBe('SUCCESS');
    expect(h.emulator.callsTo('DELETE')).toHaveLength(1);
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

  test('failed create, then delete: no call (nothing was registered), not even the key is read', async () => {
    h.secrets.set(SECRET_ARN, 'd3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktMDA=');
    h.mustNotLeak.add('d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktMDA=');
    const failed = await run(create());
    expect(failed.answer.Status).toBe('FAILED');
    h.emulator.calls.length = 0;
    const { answer } = await run(h.event('Delete', h.registrationProps(), { PhysicalResourceId: failed.answer.PhysicalResourceId }));
    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'cloudcraft-unregistered' });
    expect(h.emulator.calls).toHaveLength(0);
    expect(h.reads).toHaveLength(1);
  });

  test.each([
    ['a blank apiUrl', { ApiUrl: '' }],
    ['an apiUrl that is not a URL', { ApiUrl: 'not a url' }],
    ['no key reference', { ApiKeyId: undefined }],
    ['a RemovalPolicy it cannot read', { RemovalPolicy: 'snapshot' }],
  ])('a Delete whose properties do not parse (%s) succeeds with a log line, calling nothing', async (_name, overrides) => {
    const { answer, logs } = await run(h.event('Delete', h.registrationProps(overrides), { PhysicalResourceId: '2b8c1f7e-0d4a-4c3b-9e1f-5a6b7c8d9e0f' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(answer.Reason).toMatch(/properties cannot be read/);
    expect(logs.some(l => /delete: no Cloudcraft call/.test(l))).toBe(true);
    expect(h.emulator.calls).toHaveLength(0);
  });

  test.each(['cloudcraft-unregistered', 'pending:1764000000000'])('a Delete of %s whose properties do not parse succeeds', async (physicalId) => {
    const { answer } = await run(h.event('Delete', { ServiceToken: 'x', ApiUrl: '' }, { PhysicalResourceId: physicalId }));
    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: physicalId });
    expect(h.emulator.calls).toHaveLength(0);
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

describe('another resource of the stack holds the registration (the construct moved or renamed, a rollback)', () => {
  const TYPE = 'Custom::CloudcraftRegistration';
  const resource = (logicalId: string, physicalId: string | undefined, status: string) => ({ logicalId, physicalId, type: TYPE, status });
  const renamed = (props = h.registrationProps()) => h.event('Create', props, { LogicalResourceId: 'Renamed' });

  test.each([
    ['within the hour (the new resource answers the same ID)', 0],
    ['hours later (the registration would look like one made before the stack)', 3 * 3_600_000],
  ])('renamed %s: the old resource\'s Delete leaves it, the stack\'s Delete removes it', async (_when, later) => {
    const old = await run(create());
    const oldId = old.answer.PhysicalResourceId;
    await h.clock.advance(later);
    h.stackResources = [resource('CloudcraftRegistration', oldId, 'UPDATE_COMPLETE'), resource('Renamed', undefined, 'CREATE_IN_PROGRESS')];
    const taken = await run(renamed(h.registrationProps({ AccountName: 'production (renamed)' })));
    // It takes the old resource's physical ID: what the old one's Delete would have done, the new one's now does.
    expect(taken.answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: oldId });
    expect(h.emulator.registrationsOf(ROLE_ARN)).toEqual([expect.objectContaining({ id: oldId, name: 'production (renamed)' })]);

    // Cleanup: CloudFormation deletes the old logical ID.
    h.stackResources = [resource('CloudcraftRegistration', oldId, 'DELETE_IN_PROGRESS'), resource('Renamed', oldId, 'CREATE_COMPLETE')];
    const cleanup = await run(h.event('Delete', h.registrationProps(), { PhysicalResourceId: oldId }));
    expect(cleanup.answer).toMatchObject({ Status: 'SUCCESS', Reason: expect.stringMatching(/held by Renamed/) });
    expect(h.emulator.callsTo('DELETE')).toHaveLength(0);
    expect(h.emulator.registrationsOf(ROLE_ARN)).toHaveLength(1);
    expect(h.stackResourceReads.every(id => id === STACK_ID)).toBe(true);

    // The stack's Delete: the new resource removes it.
    h.stackResources = [resource('Renamed', oldId, 'DELETE_IN_PROGRESS')];
    const gone = await run(h.event('Delete', h.registrationProps({ AccountName: 'production (renamed)' }), { PhysicalResourceId: oldId, LogicalResourceId: 'Renamed' }));
    expect(gone.answer.Status).toBe('SUCCESS');
    expect(h.emulator.registrationsOf(ROLE_ARN)).toHaveLength(0);
  });

  test('an adopted registration moves with its original settings, restored by the stack\'s Delete', async () => {
    const before = h.emulator.seedAccount({ name: 'added by hand', roleArn: ROLE_ARN, externalId: EXTERNAL_ID });
    const old = await run(create());
    const oldId = old.answer.PhysicalResourceId;
    expect(oldId).toMatch(/^adopted:/);
    h.stackResources = [resource('CloudcraftRegistration', oldId, 'UPDATE_COMPLETE')];
    const taken = await run(renamed());
    expect(taken.answer.PhysicalResourceId).toBe(oldId);
    h.stackResources = [resource('CloudcraftRegistration', oldId, 'DELETE_IN_PROGRESS'), resource('Renamed', oldId, 'CREATE_COMPLETE')];
    await run(h.event('Delete', h.registrationProps(), { PhysicalResourceId: oldId }));
    expect(h.emulator.accounts.get(before.id)?.name).toBe('production');
    h.stackResources = [];
    await run(h.event('Delete', h.registrationProps(), { PhysicalResourceId: oldId, LogicalResourceId: 'Renamed' }));
    expect(h.emulator.accounts.get(before.id)?.name).toBe('added by hand');
  });

  test('the rollback of an Update that created the new resource leaves the old one\'s registration', async () => {
    const old = await run(create());
    const oldId = old.answer.PhysicalResourceId;
    h.stackResources = [resource('CloudcraftRegistration', oldId, 'UPDATE_COMPLETE')];
    const taken = await run(renamed());
    h.stackResources = [resource('CloudcraftRegistration', oldId, 'UPDATE_COMPLETE'), resource('Renamed', taken.answer.PhysicalResourceId, 'DELETE_IN_PROGRESS')];
    const rollback = await run(h.event('Delete', h.registrationProps(), { PhysicalResourceId: taken.answer.PhysicalResourceId, LogicalResourceId: 'Renamed' }));
    expect(rollback.answer).toMatchObject({ Status: 'SUCCESS', Reason: expect.stringMatching(/held by CloudcraftRegistration/) });
    expect(h.emulator.registrationsOf(ROLE_ARN)).toEqual([expect.objectContaining({ id: oldId })]);
  });

  test('a failed Create\'s leftover that an Update of the same resource took over is not removed with pending:', async () => {
    h.emulator.inject({ method: 'POST', actionDelayMs: 20_000 });
    const failed = await run(create(), 60_000);
    expect(failed.answer.PhysicalResourceId).toMatch(/^pending:/);
    // Deployed again (no rollback): the Update takes the leftover under a new physical ID.
    const updated = await run(h.event('Update', h.registrationProps(), { PhysicalResourceId: failed.answer.PhysicalResourceId, OldResourceProperties: h.registrationProps() }));
    expect(updated.answer.Status).toBe('SUCCESS');
    const id = updated.answer.PhysicalResourceId;
    h.stackResources = [resource('CloudcraftRegistration', id, 'UPDATE_COMPLETE')];
    const cleanup = await run(h.event('Delete', h.registrationProps(), { PhysicalResourceId: failed.answer.PhysicalResourceId }));
    expect(cleanup.answer.Status).toBe('SUCCESS');
    expect(h.emulator.registrationsOf(ROLE_ARN)).toEqual([expect.objectContaining({ id: id.replace(/^adopted:([^:]+).*$/, '$1') })]);
  });

  test('the stack cannot be listed: the Delete removes what it owns (as without the check), with a warning', async () => {
    const created = await run(create());
    h.stackResources = [resource('Renamed', created.answer.PhysicalResourceId, 'CREATE_COMPLETE')];
    h.stackResourcesDenied = true;
    const { answer, logs } = await run(h.event('Delete', h.registrationProps(), { PhysicalResourceId: created.answer.PhysicalResourceId }));
    expect(answer.Status).toBe('SUCCESS');
    expect(h.emulator.accounts.size).toBe(0);
    expect(logs.some(l => /cannot list the stack's resources/.test(l) && /AccessDenied/.test(l))).toBe(true);
  });

  test('a Delete that owns nothing, or RETAIN, does not read the stack', async () => {
    const created = await run(create());
    await run(h.event('Delete', h.registrationProps({ RemovalPolicy: 'retain' }), { PhysicalResourceId: created.answer.PhysicalResourceId }));
    await run(h.event('Delete', h.registrationProps(), { PhysicalResourceId: 'cloudcraft-unregistered' }));
    expect(h.stackResourceReads).toEqual([]);
  });
});

describe('RETAIN and a failed Create', () => {
  test('the rollback of a failed Create removes what it may have registered, RETAIN or not', async () => {
    h.emulator.inject({ method: 'POST', actionDelayMs: 20_000 });
    const failed = await run(create({ RemovalPolicy: 'retain' }), 60_000);
    expect(failed.answer.PhysicalResourceId).toMatch(/^pending:/);
    expect(h.emulator.registrationsOf(ROLE_ARN)).toHaveLength(1);
    await run(h.event('Delete', h.registrationProps({ RemovalPolicy: 'retain' }), { PhysicalResourceId: failed.answer.PhysicalResourceId }));
    expect(h.emulator.registrationsOf(ROLE_ARN)).toHaveLength(0);
  });
});

describe('account names from a pattern (organization members)', () => {
  const named = (extra: Record<string, unknown> = {}) => h.registrationProps({ AccountName: undefined, AccountNamePattern: '{alias}', ...extra });

  test('{alias} is the account alias, read once', async () => {
    h.aliases = ['acme-prod'];
    const { answer } = await run(h.event('Create', named({ AccountNamePattern: 'aws/{alias}' })));
    expect(answer.Status).toBe('SUCCESS');
    expect(h.emulator.registrationsOf(ROLE_ARN)[0].name).toBe('aws/acme-prod');
    expect(h.aliasReads).toBe(1);
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
    expect(h.aliasReads).toBe(0);
  });

  test('an Update that changes nothing the name depends on makes no call and reads no alias', async () => {
    h.aliases = ['acme-prod'];
    const created = await run(h.event('Create', named()));
    h.emulator.calls.length = 0;
    const { answer } = await run(h.event('Update', named({ Region: 'eu-west-1' }), { PhysicalResourceId: created.answer.PhysicalResourceId, OldResourceProperties: named() }));
    expect(answer.Status).toBe('SUCCESS');
    expect(h.emulator.calls).toHaveLength(0);
    expect(h.aliasReads).toBe(1);
  });

  test('switching from the alias to a fixed name needs no alias read (the new template may have removed the permission)', async () => {
    h.aliases = ['acme-prod'];
    const created = await run(h.event('Create', named()));
    h.aliasDenied = true;
    const { answer } = await run(h.event('Update', h.registrationProps({ AccountName: 'payments' }), { PhysicalResourceId: created.answer.PhysicalResourceId, OldResourceProperties: named() }));
    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: created.answer.PhysicalResourceId });
    expect(h.emulator.registrationsOf(ROLE_ARN)[0].name).toBe('payments');
    expect(h.aliasReads).toBe(1);
  });

  test('Delete reads no alias', async () => {
    const created = await run(h.event('Create', named()));
    const reads = h.aliasReads;
    await run(h.event('Delete', named(), { PhysicalResourceId: created.answer.PhysicalResourceId }));
    expect(h.aliasReads).toBe(reads);
    expect(h.emulator.accounts.size).toBe(0);
  });

  test('the alias cannot be read: FAILED with the reason, nothing registered', async () => {
    h.aliasDenied = true;
    const { answer } = await run(h.event('Create', named()));
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(/Cannot read the account alias .*iam:ListAccountAliases.*AccessDenied/);
    expect(h.emulator.accounts.size).toBe(0);
  });
});

describe('property shapes', () => {
  test('Delete with only the required properties (no ApiKeySource, RemovalPolicy, RemoveAdopted; teams as a string) works', async () => {
    const created = await run(create());
    const old = { ServiceToken: 'x', ApiUrl: IN_PROCESS_URL, ApiKeyId: SECRET_ARN, AccountName: 'production', RoleArn: ROLE_ARN, ReadAccess: 'team-a,team-b' };
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
    const props = { ServiceToken: 'x', ApiUrl: IN_PROCESS_URL, ApiKeySource: 'secretsmanager', ApiKeyId: SECRET_ARN };
    const created = await run(h.event('Create', props, { ResourceType: 'Custom::CloudcraftIamParameters' }));
    expect(created.answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'cloudcraft-iam-parameters', Data: { ExternalId: EXTERNAL_ID, AccountId: '968898580625' } });
    expect(calls()).toEqual(['GET /aws/account/iamParameters 200']);
    const deleted = await run(h.event('Delete', props, { ResourceType: 'Custom::CloudcraftIamParameters', PhysicalResourceId: 'cloudcraft-iam-parameters' }));
    expect(deleted.answer.Status).toBe('SUCCESS');
    expect(h.emulator.calls).toHaveLength(1);
  });
});
