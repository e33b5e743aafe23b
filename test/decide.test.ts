/**
 * The handler's pure decisions (decide.ts, properties.ts) and the shared retry and reason policy (runtime/policy.ts),
 * tested directly.
 */
import {
  afterPost, alreadyAsFound, holderOf, IAM_PARAMETERS_PHYSICAL_ID, leftoversOf, matchesDesired, MAX_PHYSICAL_ID_CHARS,
  parsePhysicalId, pendingPhysicalId, PENDING_SKEW_MS, physicalIdOf, planCreate, planDelete, planUpdate,
  registrationsOfRole, restoredOf, TWIN_WINDOW_MS, wantedOf,
} from '../lib/registration/handler/decide';
import { parseProps, RegistrationProps } from '../lib/registration/handler/properties';
import {
  BACKOFF_CAP_MS, CallOutcome, CloudcraftAccount, explainFailure, isAmbiguous, isSuccess, isVerificationFailure,
  parseRetryAfter, retryDecision, RetryContext, VERIFICATION_WINDOW_MS,
} from '../lib/runtime/policy';
import { registrationBody } from '../lib/runtime/registration';

const ID = '2b8c1f7e-0d4a-4c3b-9e1f-5a6b7c8d9e0f';
const ROLE = 'arn:aws:iam::111122223333:role/cloudcraft';
const EXT = '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';
const NOW = Date.parse('2026-11-23T12:00:00Z');
const RAW = {
  ApiUrl: 'https://api.cloudcraft.co/',
  ApiKeySource: 'secretsmanager',
  ApiKeyId: 'arn:aws:secretsmanager:us-east-1:1:secret:k',
  AccountName: 'production',
  RoleArn: ROLE,
  RemovalPolicy: 'destroy',
  RemoveAdopted: 'false',
};
const props = (extra: Record<string, unknown> = {}) => parseProps('Custom::CloudcraftRegistration', { ...RAW, ...extra }) as RegistrationProps;
const account = (over: Partial<CloudcraftAccount> & { id: string }): CloudcraftAccount => ({
  name: 'production', roleArn: ROLE, externalId: EXT, readAccess: null, writeAccess: null, createdAt: new Date(NOW - 86_400_000).toISOString(), ...over,
});
const response = (status: number, body: unknown = {}, retryAfter?: string): CallOutcome => ({ kind: 'response', status, body, text: JSON.stringify(body), retryAfter });
const ctx = (over: Partial<RetryContext> = {}): RetryContext => ({ operation: 'list', attempt: 1, elapsedMs: 0, remainingMs: 280_000, random: 0.5, ...over });

describe('parseProps', () => {
  test('normalizes the URL, teams and flags', () => {
    expect(props({ ReadAccess: ['b', 'a', 'a'], WriteAccess: [], ExternalId: EXT })).toEqual({
      kind: 'registration',
      apiUrl: 'https://api.cloudcraft.co',
      apiKey: { source: 'secretsmanager', id: RAW.ApiKeyId },
      accountName: 'production',
      roleArn: ROLE,
      readAccess: ['team/a', 'team/b'],
      writeAccess: [],
      removalPolicy: 'destroy',
      removeAdopted: false,
      externalId: EXT,
    });
  });

  test.each(['https://api.cloudcraft.co', 'https://api.cloudcraft.co/', 'https://API.Cloudcraft.co:443', 'HTTPS://api.cloudcraft.co:443//'])(
    '%s is the same API URL', (url) => {
      expect(props({ ApiUrl: url }).apiUrl).toBe('https://api.cloudcraft.co');
    });

  test('a path is kept; another port is another URL', () => {
    expect(props({ ApiUrl: 'https://gov.example.com/api/' }).apiUrl).toBe('https://gov.example.com/api');
    expect(props({ ApiUrl: 'https://api.cloudcraft.co:8443' }).apiUrl).toBe('https://api.cloudcraft.co:8443');
  });

  test.each(['http://127.0.0.1:4010', 'http://localhost:4010/', 'http://[::1]:4010'])('%s (this machine: local emulators) may be http', (url) => {
    expect(props({ ApiUrl: url }).apiUrl).toBe(url.replace(/\/$/, ''));
  });

  test('one name per property (no aliases), and only the two resource types the constructs make', () => {
    const { AccountName, ApiKeyId, ...rest } = RAW;
    expect(() => parseProps('Custom::CloudcraftRegistration', { ...rest, Name: AccountName, ApiKeyId })).toThrow(/property AccountName is missing/);
    expect(() => parseProps('Custom::CloudcraftRegistration', { ...rest, AccountName, ApiKeySecretArn: ApiKeyId })).toThrow(/property ApiKeyId is missing/);
    expect(() => parseProps('Custom::Other', RAW)).toThrow(/resource type "Custom::Other" is not served here/);
    expect(parseProps('Custom::CloudcraftIamParameters', RAW)).toEqual({ kind: 'iam-parameters', apiUrl: 'https://api.cloudcraft.co', apiKey: { source: 'secretsmanager', id: RAW.ApiKeyId } });
  });

  test('absent teams are null (Cloudcraft default), not an empty list', () => {
    expect(props().readAccess).toBeNull();
  });

  test.each([
    [{ RoleArn: undefined }, /RoleArn is missing/],
    [{ RemovalPolicy: 'snapshot' }, /RemovalPolicy must be destroy or retain/],
    [{ RemoveAdopted: 'yes' }, /RemoveAdopted must be true or false/],
    [{ ApiKeySource: 'vault' }, /ApiKeySource must be secretsmanager or ssm/],
    [{ ApiUrl: 'ftp://x' }, /ApiUrl is not an http\(s\) URL/],
    [{ ApiUrl: '' }, /ApiUrl is not an http\(s\) URL/],
    // A deploy-time value escapes the construct's synth check: the handler refuses to send the key in clear text.
    [{ ApiUrl: 'http://api.cloudcraft.co' }, /ApiUrl must be an https:\/\/ URL/],
    [{ ApiUrl: 'http://10.0.0.8:8080' }, /ApiUrl must be an https:\/\/ URL/],
    [{ ReadAccess: '[oops' }, /ReadAccess is not a JSON list/],
  ])('rejects %j', (extra, message) => {
    expect(() => props(extra)).toThrow(message);
  });
});

describe('physical IDs', () => {
  const original = { name: 'added by hand', readAccess: ['team/x'], writeAccess: null };

  test('created, adopted and adopted-with-original registrations round-trip', () => {
    expect(physicalIdOf({ id: ID, adopted: false })).toBe(ID);
    expect(parsePhysicalId(ID)).toEqual({ kind: 'registration', id: ID, adopted: false });
    expect(parsePhysicalId(physicalIdOf({ id: ID, adopted: true }))).toEqual({ kind: 'registration', id: ID, adopted: true });
    const withOriginal = physicalIdOf({ id: ID, adopted: true, original });
    expect(withOriginal).toMatch(new RegExp(`^adopted:${ID}:[\\w-]+$`));
    expect(parsePhysicalId(withOriginal)).toEqual({ kind: 'registration', id: ID, adopted: true, original });
  });

  test('IDs are opaque strings (not only UUIDs), colons included', () => {
    for (const id of ['acct-01', 'Acct 01', 'a:b:c']) {
      expect(parsePhysicalId(id)).toEqual({ kind: 'registration', id, adopted: false });
      expect(parsePhysicalId(physicalIdOf({ id, adopted: true, original }))).toEqual({ kind: 'registration', id, adopted: true, original });
    }
    expect(parsePhysicalId('adopted:a:b')).toEqual({ kind: 'registration', id: 'a:b', adopted: true });
  });

  test('the original is left out when the ID would not stay under 1,000 characters', () => {
    const long = physicalIdOf({ id: ID, adopted: true, original: { ...original, readAccess: Array.from({ length: 40 }, (_, i) => `team/${'x'.repeat(20)}${i}`) } });
    expect(long).toBe(`adopted:${ID}`);
    expect(physicalIdOf({ id: ID, adopted: true, original }).length).toBeLessThan(MAX_PHYSICAL_ID_CHARS);
  });

  test('pending and nothing', () => {
    expect(parsePhysicalId(pendingPhysicalId(NOW))).toEqual({ kind: 'pending', since: NOW });
    for (const none of ['cloudcraft-unregistered', IAM_PARAMETERS_PHYSICAL_ID, '', undefined, 'pending:soon', 'adopted:']) {
      expect(parsePhysicalId(none)).toEqual({ kind: 'none' });
    }
  });
});

describe('bodies (the one model of runtime/registration: left out = not managed, [] = shared with no team)', () => {
  test('teams not given are left out; given ones sent; the region only when asked', () => {
    expect(registrationBody(wantedOf(props({ AccountName: 'n' })))).toEqual({ name: 'n', roleArn: ROLE });
    expect(registrationBody(wantedOf(props({ AccountName: 'n', ReadAccess: ['a'] })), { region: 'eu-west-1' }))
      .toEqual({ name: 'n', roleArn: ROLE, readAccess: ['team/a'], region: 'eu-west-1' });
    expect(registrationBody(wantedOf(props({ AccountName: 'n', ReadAccess: [] })))).toEqual({ name: 'n', roleArn: ROLE, readAccess: [] });
  });

  test('a team list the template does not manage is sent back as the registration has it, never null', () => {
    const current = account({ id: 'a', readAccess: ['team/x'], writeAccess: null });
    expect(registrationBody(wantedOf(props({ AccountName: 'n' })), { current })).toEqual({ name: 'n', roleArn: ROLE, readAccess: ['team/x'] });
    expect(registrationBody(wantedOf(props({ AccountName: 'n', ReadAccess: [] })), { current })).toEqual({ name: 'n', roleArn: ROLE, readAccess: [] });
  });

  test('registrationsOfRole: exact role ARN, oldest first; matchesDesired compares managed teams as sets and ignores the others', () => {
    const accounts = [account({ id: 'b', createdAt: '2025' }), account({ id: 'a', createdAt: '2024' }), account({ id: 'c', roleArn: `${ROLE}-x` })];
    expect(registrationsOfRole(accounts, ROLE).map(a => a.id)).toEqual(['a', 'b']);
    expect(matchesDesired(account({ id: 'a', readAccess: ['team/y', 'team/x'] }), props({ ReadAccess: ['x', 'y'] }))).toBe(true);
    expect(matchesDesired(account({ id: 'a', readAccess: [] }), props())).toBe(true);
    expect(matchesDesired(account({ id: 'a', readAccess: ['team/x'] }), props())).toBe(true);
    expect(matchesDesired(account({ id: 'a', readAccess: ['team/x'] }), props({ ReadAccess: [] }))).toBe(false);
    expect(matchesDesired(account({ id: 'a', readAccess: null }), props({ ReadAccess: [] }))).toBe(true);
  });
});

describe('plans', () => {
  test('create: nothing of the role, POST', () => {
    expect(planCreate([account({ id: 'x', roleArn: `${ROLE}2` })], props(), NOW)).toEqual({ action: 'post' });
  });

  test('create: an exact match made within the last hour is a twin delivery\'s (own); older or different is adopted', () => {
    const recent = account({ id: 'r', createdAt: new Date(NOW - 60_000).toISOString() });
    expect(planCreate([recent], props(), NOW)).toEqual({ action: 'own', account: recent });
    const old = account({ id: 'o', createdAt: new Date(NOW - TWIN_WINDOW_MS - 1).toISOString() });
    expect(planCreate([old], props(), NOW)).toEqual({ action: 'adopt', account: old, put: false });
    const renamed = account({ id: 'n', name: 'other', createdAt: new Date(NOW - 60_000).toISOString() });
    expect(planCreate([renamed], props(), NOW)).toEqual({ action: 'adopt', account: renamed, put: true });
  });

  test('create: a registration made with another external ID is refused; without ExternalId (old events) adopted', () => {
    const theirs = account({ id: 't', externalId: '11111111-2222-4333-8444-555555555555' });
    expect(planCreate([theirs], props({ ExternalId: EXT }), NOW)).toMatchObject({ action: 'refuse', reason: expect.stringMatching(/not adopted/) });
    expect(planCreate([theirs], props(), NOW)).toMatchObject({ action: 'adopt' });
    const ours = account({ id: 'o' });
    expect(planCreate([theirs, ours], props({ ExternalId: EXT }), NOW)).toMatchObject({ action: 'adopt', account: ours });
  });

  test('after a POST: new registrations of the role are ours; keep the oldest (createdAt, then id), remove the rest', () => {
    const known = new Set(['old']);
    const accounts = [account({ id: 'old' }), account({ id: 'b', createdAt: '2026-11-23T12:00:01Z' }), account({ id: 'a', createdAt: '2026-11-23T12:00:01Z' })];
    expect(afterPost(accounts, known, ROLE)).toEqual({ keep: accounts[2], remove: [accounts[1]] });
    const posted = account({ id: 'p', createdAt: '2026-11-23T12:00:02Z' });
    expect(afterPost([accounts[0]], known, ROLE, posted)).toEqual({ keep: posted, remove: [] });
    expect(afterPost([accounts[0]], known, ROLE)).toBeUndefined();
  });

  test('update: a changed name, role, teams or key means PUT; only the verification region means nothing', () => {
    expect(planUpdate(ID, props(), props({ AccountName: 'x' })).action).toBe('put');
    expect(planUpdate(ID, props(), props({ RoleArn: `${ROLE}2` })).action).toBe('put');
    expect(planUpdate(ID, props(), props({ WriteAccess: ['t'] })).action).toBe('put');
    expect(planUpdate(ID, props(), props({ ApiKeyId: 'other' })).action).toBe('put');
    expect(planUpdate(ID, props(), props({ Region: 'eu-west-1' })).action).toBe('none');
    expect(planUpdate(ID, undefined, props()).action).toBe('put');
  });

  test('update: team access now managed, or managed with other teams, means PUT; no longer managed means nothing', () => {
    expect(planUpdate(ID, props(), props({ ReadAccess: [] })).action).toBe('put');
    expect(planUpdate(ID, props({ ReadAccess: ['a'] }), props({ ReadAccess: [] })).action).toBe('put');
    expect(planUpdate(ID, props({ ReadAccess: ['a', 'b'] }), props({ ReadAccess: ['b', 'a'] })).action).toBe('none');
    expect(planUpdate(ID, props({ ReadAccess: ['a'] }), props()).action).toBe('none');
    expect(planUpdate(ID, props({ WriteAccess: [] }), props()).action).toBe('none');
  });

  test('update: naming compared as written (pattern and names), never through the alias', () => {
    const pattern = { AccountName: undefined, AccountNamePattern: '{alias}' };
    expect(planUpdate(ID, props(pattern), props(pattern)).action).toBe('none');
    expect(planUpdate(ID, props(pattern), props({ AccountName: '{alias}' })).action).toBe('none');
    expect(planUpdate(ID, props(pattern), props({ ...pattern, AccountNames: '{"111122223333":"x"}' })).action).toBe('put');
  });

  test('update: a respelled API URL is the same; another host is looked up there; never registered means create', () => {
    expect(planUpdate(ID, props(), props({ ApiUrl: 'https://API.cloudcraft.co:443/' })).action).toBe('none');
    expect(planUpdate(ID, props(), props({ ApiUrl: 'https://gov.example' }))).toMatchObject({ action: 'relocate', registration: { id: ID } });
    expect(planUpdate('cloudcraft-unregistered', props(), props())).toMatchObject({ action: 'create' });
    expect(planUpdate('pending:1', props(), props())).toMatchObject({ action: 'create' });
  });

  test('delete: skip what owns nothing or cannot be reached, RETAIN, and an adopted one without its original', () => {
    expect(planDelete('cloudcraft-unregistered', props()).action).toBe('skip');
    expect(planDelete(ID, undefined, 'property ApiUrl is not an http(s) URL')).toMatchObject({ action: 'skip', why: expect.stringMatching(/properties cannot be read/) });
    expect(planDelete(ID, props({ RemovalPolicy: 'retain' })).action).toBe('skip');
    expect(planDelete(`adopted:${ID}`, props()).action).toBe('skip');
  });

  test('delete: created ones deleted, adopted ones restored (or deleted when opted in), pending ones cleaned up', () => {
    const original = { name: 'mine', readAccess: null, writeAccess: null };
    const adopted = physicalIdOf({ id: ID, adopted: true, original });
    expect(planDelete(ID, props())).toEqual({ action: 'delete', id: ID });
    expect(planDelete(adopted, props())).toEqual({ action: 'restore', id: ID, original });
    expect(planDelete(adopted, props({ RemoveAdopted: 'true' }))).toEqual({ action: 'delete', id: ID });
    expect(planDelete(pendingPhysicalId(NOW), props())).toEqual({ action: 'cleanup', since: NOW - PENDING_SKEW_MS });
  });

  test('restore: the name, and the team lists the template managed as found (null as []); the others not touched', () => {
    const original = { name: 'mine', readAccess: ['team/x'], writeAccess: null };
    expect(restoredOf(original, props({ ReadAccess: ['y'], WriteAccess: ['z'] })))
      .toEqual({ name: 'mine', roleArn: ROLE, readAccess: ['team/x'], writeAccess: [] });
    expect(restoredOf(original, props())).toEqual({ name: 'mine', roleArn: ROLE, readAccess: null, writeAccess: null });
    expect(alreadyAsFound(original, props({ AccountName: 'mine' }))).toBe(true);
    expect(alreadyAsFound(original, props({ AccountName: 'mine', ReadAccess: ['x'] }))).toBe(true);
    expect(alreadyAsFound(original, props({ AccountName: 'mine', WriteAccess: ['x'] }))).toBe(false);
    expect(alreadyAsFound(original, props({ AccountName: 'other' }))).toBe(false);
  });

  test('leftovers of a failed create: the role\'s registrations created since', () => {
    const accounts = [account({ id: 'before' }), account({ id: 'after', createdAt: new Date(NOW + 1_000).toISOString() }), account({ id: 'other', roleArn: `${ROLE}2`, createdAt: new Date(NOW + 1_000).toISOString() })];
    expect(leftoversOf(accounts, ROLE, NOW).map(a => a.id)).toEqual(['after']);
  });
});

describe('holderOf: another resource of the stack that holds a registration', () => {
  const TYPE = 'Custom::CloudcraftRegistration';
  const event = { LogicalResourceId: 'Old', PhysicalResourceId: ID, ResourceType: TYPE };
  const r = (logicalId: string, physicalId: string | undefined, status = 'CREATE_COMPLETE', type = TYPE) => ({ logicalId, physicalId, type, status });

  test('a live resource of the same type whose physical ID names it, plain or adopted', () => {
    expect(holderOf([r('New', ID)], event, ID)?.logicalId).toBe('New');
    expect(holderOf([r('New', physicalIdOf({ id: ID, adopted: true, original: { name: 'x', readAccess: null, writeAccess: null } }))], event, ID)?.logicalId).toBe('New');
    expect(holderOf([r('New', `adopted:${ID}`, 'UPDATE_COMPLETE')], event, ID)?.logicalId).toBe('New');
  });

  test('the same resource with another physical ID holds it (an Update replaced a failed Create\'s pending:)', () => {
    expect(holderOf([r('Old', ID, 'UPDATE_COMPLETE')], { ...event, PhysicalResourceId: pendingPhysicalId(NOW) }, ID)?.logicalId).toBe('Old');
  });

  test.each([
    ['itself', [r('Old', ID, 'DELETE_IN_PROGRESS')]],
    ['itself, not yet marked as being deleted', [r('Old', ID, 'UPDATE_COMPLETE')]],
    ['a resource being deleted', [r('New', ID, 'DELETE_IN_PROGRESS')]],
    ['a deleted resource', [r('New', ID, 'DELETE_COMPLETE')]],
    ['a resource whose delete was skipped', [r('New', ID, 'DELETE_SKIPPED')]],
    ['a resource of another type with that physical ID', [r('Topic', ID, 'CREATE_COMPLETE', 'AWS::SNS::Topic')]],
    ['another registration', [r('New', '9f8e7d6c-0d4a-4c3b-9e1f-5a6b7c8d9e0f')]],
    ['a resource that registered nothing or is pending', [r('New', 'cloudcraft-unregistered'), r('Other', pendingPhysicalId(NOW)), r('Third', undefined, 'CREATE_IN_PROGRESS')]],
  ])('not %s', (_name, resources) => {
    expect(holderOf(resources, event, ID)).toBeUndefined();
  });

  test('a resource whose delete failed still exists, so it still holds it', () => {
    expect(holderOf([r('New', ID, 'DELETE_FAILED')], event, ID)?.logicalId).toBe('New');
  });
});

describe('retries (runtime/policy)', () => {
  test('Retry-After: seconds, HTTP date, absent or unreadable', () => {
    expect(parseRetryAfter('7', NOW)).toBe(7_000);
    expect(parseRetryAfter('1.5', NOW)).toBe(1_500);
    expect(parseRetryAfter(new Date(NOW + 12_000).toUTCString(), NOW)).toBe(12_000);
    expect(parseRetryAfter(new Date(NOW - 5_000).toUTCString(), NOW)).toBe(0);
    expect(parseRetryAfter(null, NOW)).toBeUndefined();
    expect(parseRetryAfter('soon', NOW)).toBeUndefined();
  });

  test('429 waits as long as the pacer holds requests back, plus under half a second of jitter', () => {
    expect(retryDecision(response(429, {}, '7'), ctx({ random: 0, pacerWaitMs: 7_000 }))).toMatchObject({ retry: true, delayMs: 7_000 });
    expect(retryDecision(response(429, {}, '7'), ctx({ random: 0.99, pacerWaitMs: 7_000 }))).toMatchObject({ retry: true, delayMs: 7_495 });
  });

  test('5xx, 408 and network errors back off exponentially, capped', () => {
    const delayOf = (attempt: number, status = 503) => (retryDecision(response(status), ctx({ attempt, random: 1 })) as { delayMs: number }).delayMs;
    const delays = [1, 2, 3, 4, 5, 6, 7, 8].map(a => delayOf(a));
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 20_000, 20_000, 20_000]);
    expect(Math.max(...delays)).toBe(BACKOFF_CAP_MS);
    expect(delayOf(1, 408)).toBe(1_000);
    expect(retryDecision({ kind: 'network', error: 'ECONNRESET', cause: 'network' }, ctx({ random: 0 }))).toMatchObject({ retry: true, delayMs: 500 });
  });

  test('a local error or a too-large answer is not retried', () => {
    expect(retryDecision({ kind: 'network', error: 'invalid header', cause: 'local' }, ctx()).retry).toBe(false);
    expect(retryDecision({ kind: 'network', error: 'too long', cause: 'too-large' }, ctx()).retry).toBe(false);
  });

  test('a 2xx that is not JSON is retried for reads, a success for PUT and DELETE; other 4xx are not retried', () => {
    const html: CallOutcome = { kind: 'response', status: 200, body: undefined, text: '<html>' };
    expect(retryDecision(html, ctx()).retry).toBe(true);
    expect(isSuccess(html, 'update')).toBe(true);
    expect(isSuccess({ kind: 'response', status: 204, body: null, text: '' }, 'delete')).toBe(true);
    expect(isSuccess(html, 'list')).toBe(false);
    for (const status of [401, 403, 404, 409]) expect(retryDecision(response(status), ctx()).retry).toBe(false);
  });

  test('a POST may have registered after no answer, a 5xx, 408 or a 2xx; not after a 4xx or a local error', () => {
    expect(isAmbiguous({ kind: 'network', error: 'timed out', cause: 'timeout' })).toBe(true);
    expect(isAmbiguous(response(502))).toBe(true);
    expect(isAmbiguous(response(408))).toBe(true);
    expect(isAmbiguous({ kind: 'response', status: 200, body: undefined, text: '<html>' })).toBe(true);
    expect(isAmbiguous(response(400))).toBe(false);
    expect(isAmbiguous({ kind: 'network', error: 'bad header', cause: 'local' })).toBe(false);
  });

  test('a verification 400 is retried on register within the propagation window only', () => {
    const verify = response(400, { error: 'Unable to verify AWS account', reason: 'invalid_property', code: 400 });
    expect(retryDecision(verify, ctx({ operation: 'register' })).retry).toBe(true);
    expect(retryDecision(verify, ctx({ operation: 'register', elapsedMs: VERIFICATION_WINDOW_MS })).retry).toBe(false);
    expect(retryDecision(verify, ctx({ operation: 'list' })).retry).toBe(false);
    expect(retryDecision(response(400, { error: 'Invalid roleArn', reason: 'invalid_parameter' }), ctx({ operation: 'register' })).retry).toBe(false);
  });

  test('no retry that would end past the deadline', () => {
    expect(retryDecision(response(429, {}, '120'), ctx({ remainingMs: 60_000, pacerWaitMs: 120_000 })).retry).toBe(false);
    expect(retryDecision(response(503), ctx({ remainingMs: 2_500 })).retry).toBe(false);
  });

  test('isVerificationFailure reads both the message and bodies without one', () => {
    expect(isVerificationFailure(response(400, { error: 'Could not assume role' }))).toBe(true);
    expect(isVerificationFailure({ kind: 'response', status: 400, body: undefined, text: 'Bad Request' })).toBe(true);
    expect(isVerificationFailure(response(400, { error: 'name is required', reason: 'invalid_property' }))).toBe(false);
    expect(isVerificationFailure(response(401))).toBe(false);
  });
});

describe('reasons (runtime/policy)', () => {
  const base = { operation: 'register' as const, apiUrl: 'https://api.cloudcraft.co', keySource: 'secret arn:aws:secretsmanager:us-east-1:1:secret:k', roleArn: ROLE, attempts: 3 };

  test.each([
    [response(401), /rejected the API key \(401\) read from secret arn:aws:secretsmanager/],
    [response(403, { error: 'Insufficient privileges' }), /403: "Insufficient privileges".*Owner or Administrator.*read-write.*Pro/],
    [response(400, { error: 'Unable to verify AWS account' }), /could not verify the role .*after 3 attempts, assuming it from us-east-1.*verificationRegion/],
    [response(400, { error: 'Bad Request', message: 'name is required', reason: 'invalid_property' }), /rejected the request while registering the AWS account \(400: "Bad Request \(name is required; invalid_property\)"\)/],
    [response(404), /found nothing to act on/],
    [response(429), /kept rate-limiting the API key \(429\) after 3 attempts/],
    [response(502), /failed with 502 after 3 attempts/],
    [response(408), /failed with 408 after 3 attempts/],
    [{ kind: 'network', error: 'timed out', cause: 'timeout' } as CallOutcome, /no answer from https:\/\/api.cloudcraft.co while registering the AWS account after 3 attempts \(timed out\)/],
    [{ kind: 'network', error: 'invalid header', cause: 'local' } as CallOutcome, /could not be sent .*not a network problem/],
  ])('%j', (outcome, message) => {
    const reason = explainFailure(outcome, base);
    expect(reason).toMatch(message);
    expect(reason.length).toBeLessThan(1000);
  });
});
