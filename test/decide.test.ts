/**
 * The handler's pure decision logic, tested directly.
 */
import {
  BACKOFF_CAP_MS, CallOutcome, desiredBody, explainFailure, isVerificationFailure, matchesDesired, parsePhysicalId,
  parseRetryAfter, physicalIdOf, planDelete, planUpdate, RATE_LIMIT_DEFAULT_WAIT_MS, registrationsOfRole, retryDecision,
  RetryContext, VERIFICATION_WINDOW_MS,
} from '../lib/registration/handler/decide';
import { parseProps, RegistrationProps } from '../lib/registration/handler/properties';

const ID = '2b8c1f7e-0d4a-4c3b-9e1f-5a6b7c8d9e0f';
const ROLE = 'arn:aws:iam::111122223333:role/cloudcraft';
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
const response = (status: number, body: unknown = {}, retryAfter?: string): CallOutcome => ({ kind: 'response', status, body, text: JSON.stringify(body), retryAfter });
const ctx = (over: Partial<RetryContext> = {}): RetryContext => ({ operation: 'list', attempt: 1, elapsedMs: 0, remainingMs: 280_000, random: 0.5, ...over });

describe('parseProps', () => {
  test('normalizes the URL, teams and flags', () => {
    expect(props({ ReadAccess: ['b', 'a', 'a'], WriteAccess: [] })).toEqual({
      kind: 'registration',
      apiUrl: 'https://api.cloudcraft.co',
      apiKey: { source: 'secretsmanager', id: RAW.ApiKeyId },
      accountName: 'production',
      roleArn: ROLE,
      readAccess: ['team/a', 'team/b'],
      writeAccess: [],
      removalPolicy: 'destroy',
      removeAdopted: false,
    });
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
  ])('rejects %j', (extra, message) => {
    expect(() => props(extra)).toThrow(message);
  });
});

describe('physical IDs', () => {
  test('created and adopted registrations round-trip', () => {
    expect(parsePhysicalId(physicalIdOf({ id: ID, adopted: false }))).toEqual({ id: ID, adopted: false });
    expect(parsePhysicalId(physicalIdOf({ id: ID, adopted: true }))).toEqual({ id: ID, adopted: true });
    expect(physicalIdOf({ id: ID, adopted: false })).toBe(ID);
  });

  test.each(['cloudcraft-unregistered', '2024/05/01/[$LATEST]abc', '', undefined, 'adopted:nope'])('%j is not a registration', (value) => {
    expect(parsePhysicalId(value)).toBeUndefined();
  });
});

describe('plans', () => {
  test('update: a changed name, role, teams or key means PUT; only the verification region means nothing', () => {
    expect(planUpdate(ID, props(), props({ AccountName: 'x' })).action).toBe('put');
    expect(planUpdate(ID, props(), props({ RoleArn: `${ROLE}2` })).action).toBe('put');
    expect(planUpdate(ID, props(), props({ WriteAccess: ['t'] })).action).toBe('put');
    expect(planUpdate(ID, props(), props({ ApiKeyId: 'other' })).action).toBe('put');
    expect(planUpdate(ID, props(), props({ Region: 'eu-west-1' })).action).toBe('none');
    expect(planUpdate(ID, undefined, props()).action).toBe('put');
  });

  test('update: a new API URL or a never-registered resource means a new registration', () => {
    expect(planUpdate(ID, props(), props({ ApiUrl: 'https://gov.example' }))).toMatchObject({ action: 'create' });
    expect(planUpdate('cloudcraft-unregistered', props(), props())).toMatchObject({ action: 'create' });
  });

  test('delete: skip unregistered, RETAIN and adopted (unless opted in)', () => {
    expect(planDelete('cloudcraft-unregistered', props()).action).toBe('skip');
    expect(planDelete(ID, props({ RemovalPolicy: 'retain' })).action).toBe('skip');
    expect(planDelete(`adopted:${ID}`, props()).action).toBe('skip');
    expect(planDelete(`adopted:${ID}`, props({ RemoveAdopted: 'true' }))).toEqual({ action: 'delete', registration: { id: ID, adopted: true } });
    expect(planDelete(ID, props())).toEqual({ action: 'delete', registration: { id: ID, adopted: false } });
  });

  test('POST carries the region, PUT does not; both always carry the team fields', () => {
    expect(desiredBody(props({ Region: 'eu-west-1' }), true)).toEqual({ name: 'production', roleArn: ROLE, readAccess: null, writeAccess: null, region: 'eu-west-1' });
    expect(desiredBody(props({ Region: 'eu-west-1' }), false)).toEqual({ name: 'production', roleArn: ROLE, readAccess: null, writeAccess: null });
  });

  test('registrationsOfRole: exact role ARN, oldest first; matchesDesired compares teams as sets', () => {
    const accounts = [
      { id: 'b', roleArn: ROLE, createdAt: '2025' }, { id: 'a', roleArn: ROLE, createdAt: '2024' }, { id: 'c', roleArn: `${ROLE}-x` },
    ];
    expect(registrationsOfRole(accounts, ROLE).map(a => a.id)).toEqual(['a', 'b']);
    expect(matchesDesired({ id: 'a', name: 'production', roleArn: ROLE, readAccess: ['team/y', 'team/x'], writeAccess: null },
      props({ ReadAccess: ['x', 'y'] }))).toBe(true);
    expect(matchesDesired({ id: 'a', name: 'production', roleArn: ROLE, readAccess: [], writeAccess: null }, props())).toBe(false);
  });
});

describe('retries', () => {
  const NOW = Date.parse('2026-11-23T12:00:00Z');

  test('Retry-After: seconds, HTTP date, absent or unreadable', () => {
    expect(parseRetryAfter('7', NOW)).toBe(7_000);
    expect(parseRetryAfter('1.5', NOW)).toBe(1_500);
    expect(parseRetryAfter(new Date(NOW + 12_000).toUTCString(), NOW)).toBe(12_000);
    expect(parseRetryAfter(new Date(NOW - 5_000).toUTCString(), NOW)).toBe(0);
    expect(parseRetryAfter(null, NOW)).toBeUndefined();
    expect(parseRetryAfter('soon', NOW)).toBeUndefined();
  });

  test('429 waits Retry-After (plus under a second of jitter), or 60 s without it', () => {
    expect(retryDecision(response(429, {}, '7'), ctx({ random: 0 }), NOW)).toMatchObject({ retry: true, delayMs: 7_000 });
    expect(retryDecision(response(429, {}, '7'), ctx({ random: 0.99 }), NOW)).toMatchObject({ retry: true, delayMs: 7_990 });
    expect(retryDecision(response(429), ctx({ random: 0 }), NOW)).toMatchObject({ retry: true, delayMs: RATE_LIMIT_DEFAULT_WAIT_MS });
  });

  test('5xx and network errors back off exponentially, capped', () => {
    const delayOf = (attempt: number) => (retryDecision(response(503), ctx({ attempt, random: 1 }), NOW) as { delayMs: number }).delayMs;
    const delays = [1, 2, 3, 4, 5, 6, 7, 8].map(delayOf);
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 20_000, 20_000, 20_000]);
    expect(Math.max(...delays)).toBe(BACKOFF_CAP_MS);
    expect(retryDecision({ kind: 'network', error: 'ECONNRESET' }, ctx({ random: 0 }), NOW)).toMatchObject({ retry: true, delayMs: 500 });
  });

  test('a 2xx that is not JSON is retried; other 4xx are not', () => {
    expect(retryDecision({ kind: 'response', status: 200, body: undefined, text: '<html>' }, ctx(), NOW).retry).toBe(true);
    for (const status of [401, 403, 404, 409]) expect(retryDecision(response(status), ctx(), NOW).retry).toBe(false);
  });

  test('a verification 400 is retried on register within the propagation window only', () => {
    const verify = response(400, { error: 'Unable to verify AWS account', reason: 'invalid_property', code: 400 });
    expect(retryDecision(verify, ctx({ operation: 'register' }), NOW).retry).toBe(true);
    expect(retryDecision(verify, ctx({ operation: 'register', elapsedMs: VERIFICATION_WINDOW_MS }), NOW).retry).toBe(false);
    expect(retryDecision(verify, ctx({ operation: 'list' }), NOW).retry).toBe(false);
    expect(retryDecision(response(400, { error: 'Invalid roleArn', reason: 'invalid_parameter' }), ctx({ operation: 'register' }), NOW).retry).toBe(false);
  });

  test('no retry that would end past the deadline', () => {
    expect(retryDecision(response(429, {}, '120'), ctx({ remainingMs: 60_000 }), NOW).retry).toBe(false);
    expect(retryDecision(response(503), ctx({ remainingMs: 2_500 }), NOW).retry).toBe(false);
  });

  test('isVerificationFailure reads both the message and bodies without one', () => {
    expect(isVerificationFailure(response(400, { error: 'Could not assume role' }))).toBe(true);
    expect(isVerificationFailure({ kind: 'response', status: 400, body: undefined, text: 'Bad Request' })).toBe(true);
    expect(isVerificationFailure(response(400, { error: 'name is required', reason: 'invalid_property' }))).toBe(false);
    expect(isVerificationFailure(response(401))).toBe(false);
  });
});

describe('reasons', () => {
  const base = { operation: 'register' as const, apiUrl: 'https://api.cloudcraft.co', keySource: 'secret arn:aws:secretsmanager:us-east-1:1:secret:k', roleArn: ROLE, attempts: 3 };

  test.each([
    [response(401), /rejected the API key \(401\) read from secret arn:aws:secretsmanager/],
    [response(403, { error: 'Insufficient privileges' }), /403: "Insufficient privileges".*Owner or Administrator.*read-write.*Pro/],
    [response(400, { error: 'Unable to verify AWS account' }), /could not verify the role .*after 3 attempts, assuming it from us-east-1.*verificationRegion/],
    [response(400, { error: 'name is required' }), /rejected the request while registering the AWS account \(400: "name is required"\)/],
    [response(404), /found nothing to act on/],
    [response(429), /kept rate-limiting the API key \(429\) after 3 attempts/],
    [response(502), /failed with 502 after 3 attempts.*retry the deployment later/],
    [{ kind: 'network', error: 'timed out' } as CallOutcome, /no answer from https:\/\/api.cloudcraft.co while registering the AWS account after 3 attempts \(timed out\)/],
  ])('%j', (outcome, message) => {
    const reason = explainFailure(outcome, base);
    expect(reason).toMatch(message);
    expect(reason.length).toBeLessThan(1000);
  });
});
