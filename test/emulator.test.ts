/**
 * The emulator itself, checked against the documented API facts (Cloudcraft's API reference and SDKs), so that the
 * handler tests that rely on it mean something: a duplicate on double POST, the rate limit, error bodies, a POST
 * that completes after the client gave up.
 */
import { CLOUDCRAFT_AWS_ACCOUNT, CloudcraftEmulator, IN_PROCESS_URL } from './support/cloudcraft-emulator';
import { VirtualClock } from './support/virtual-clock';

const KEY = 'k'.repeat(44);
const EXT = '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';
const ROLE = 'arn:aws:iam::111122223333:role/cloudcraft';
let emulator: CloudcraftEmulator;

beforeEach(async () => {
  emulator = await new CloudcraftEmulator({ users: [{ key: KEY, id: 'u1', externalId: EXT }] }).start();
  emulator.addRole(ROLE, { externalId: EXT });
});
afterEach(() => emulator.stop());

async function call(method: string, path: string, body?: unknown, key = KEY) {
  const response = await fetch(`${emulator.url}${path}`, {
    method, headers: { 'Authorization': `Bearer ${key}`, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

test('POSTing the same role twice makes a duplicate (no idempotency), as Cloudcraft is believed to', async () => {
  expect((await call('POST', '/aws/account', { name: 'a', roleArn: ROLE })).status).toBe(201);
  expect((await call('POST', '/aws/account', { name: 'a', roleArn: ROLE })).status).toBe(201);
  expect(emulator.registrationsOf(ROLE)).toHaveLength(2);
});

test('account objects carry every documented field', async () => {
  const { body } = await call('POST', '/aws/account', { name: 'a', roleArn: ROLE, readAccess: ['team/x'] });
  expect(Object.keys(body).sort()).toEqual(expect.arrayContaining(
    ['id', 'name', 'roleArn', 'externalId', 'readAccess', 'writeAccess', 'source', 'createdAt', 'updatedAt', 'CreatorId'].sort()));
  expect(body.id).toMatch(/^[0-9a-f-]{36}$/);
  expect(body.source).toBe('aws');
  expect((await call('GET', '/aws/account')).body.accounts).toHaveLength(1);
});

test('error bodies are {error, reason, code}; 401 for an unknown key', async () => {
  expect(await call('GET', '/aws/account', undefined, 'nope')).toMatchObject({ status: 401, body: { error: 'Unauthorized', reason: 'unauthorized', code: 401 } });
  expect(await call('PUT', '/aws/account/2b8c1f7e-0d4a-4c3b-9e1f-5a6b7c8d9e0f', { name: 'a', roleArn: ROLE }))
    .toMatchObject({ status: 404, body: { reason: 'not_found', code: 404 } });
});

test('verification: an unknown role, another external ID or a blocked region answer 400', async () => {
  expect((await call('POST', '/aws/account', { name: 'a', roleArn: 'arn:aws:iam::111122223333:role/unknown' })).status).toBe(400);
  emulator.addRole(ROLE, { externalId: '11111111-2222-4333-8444-555555555555' });
  expect((await call('POST', '/aws/account', { name: 'a', roleArn: ROLE })).body.error).toMatch(/Unable to verify AWS account/);
  emulator.addRole(ROLE, { externalId: EXT, assumableAt: emulator.now() + 60_000 });
  expect((await call('POST', '/aws/account', { name: 'a', roleArn: ROLE })).status).toBe(400);
});

test('rate limit: N requests per window, then 429 with Retry-After in seconds', async () => {
  emulator.rateLimit = { requests: 3, windowMs: 10_000, retryAfter: 'seconds' };
  const statuses = [];
  let last;
  for (let i = 0; i < 5; i++) {
    last = await call('GET', '/aws/account');
    statuses.push(last.status);
  }
  expect(statuses).toEqual([200, 200, 200, 429, 429]);
  expect(Number(last!.headers.get('retry-after'))).toBeGreaterThanOrEqual(9);
});

test.each([false, true])('rate limit when rejected requests count too (%s): they keep the window full, Retry-After says when there is room', async (countRejected) => {
  // On virtual time, through the in-process transport: the 10 s window costs no real time.
  const clock = new VirtualClock();
  const limited = new CloudcraftEmulator({
    users: [{ key: KEY, externalId: EXT }], clock, rateLimit: { requests: 2, windowMs: 10_000, retryAfter: 'seconds', countRejected },
  });
  const transport = limited.transport();
  const get = () => transport({ method: 'GET', url: `${IN_PROCESS_URL}/aws/account`, headers: { Authorization: `Bearer ${KEY}` } }, new AbortController().signal);
  const statuses = [(await get()).status, (await get()).status];
  await clock.advance(6_000);
  const rejected = [await get(), await get()];
  statuses.push(...rejected.map(r => r.status));
  // The accepted requests leave the window at 10 s; the rejected ones (at 6 s) stay until 16 s.
  expect(Number(rejected[1].headers['retry-after'])).toBe(countRejected ? 10 : 4);
  await clock.advance(6_000);
  statuses.push((await get()).status);
  expect(statuses).toEqual([200, 200, 429, 429, countRejected ? 429 : 200]);
});

test('iamParameters: Cloudcraft\'s AWS account and the key owner\'s external ID', async () => {
  expect((await call('GET', '/aws/account/iamParameters')).body).toMatchObject({ accountId: CLOUDCRAFT_AWS_ACCOUNT, externalId: EXT });
});

test('PUT keeps omitted team fields by default, and clears them when configured to (both readings of the docs)', async () => {
  const { body } = await call('POST', '/aws/account', { name: 'a', roleArn: ROLE, readAccess: ['team/x'] });
  await call('PUT', `/aws/account/${body.id}`, { name: 'b', roleArn: ROLE });
  expect(emulator.accounts.get(body.id)!.readAccess).toEqual(['team/x']);
  await emulator.stop();
  emulator = await new CloudcraftEmulator({ users: [{ key: KEY, externalId: EXT }], putClearsOmittedAccess: true }).start();
  emulator.addRole(ROLE, { externalId: EXT });
  const created = await call('POST', '/aws/account', { name: 'a', roleArn: ROLE, readAccess: ['team/x'] });
  await call('PUT', `/aws/account/${created.body.id}`, { name: 'b', roleArn: ROLE });
  expect(emulator.accounts.get(created.body.id)!.readAccess).toBeNull();
});

test('actionDelayMs: the request is held, then done even though the client gave up', async () => {
  const clock = new VirtualClock();
  const slow = new CloudcraftEmulator({ users: [{ key: KEY, externalId: EXT }], clock });
  slow.addRole(ROLE, { externalId: EXT });
  slow.inject({ method: 'POST', actionDelayMs: 35_000 });
  const controller = new AbortController();
  const post = slow.transport()({ method: 'POST', url: `${IN_PROCESS_URL}/aws/account`, headers: { Authorization: `Bearer ${KEY}` }, body: JSON.stringify({ name: 'a', roleArn: ROLE }) }, controller.signal);
  const outcome = post.then(() => 'answered', (err: Error) => err.name);
  await clock.advance(15_000);
  controller.abort(); // the client's timeout
  expect(await outcome).toBe('TransportError');
  expect(slow.registrationsOf(ROLE)).toHaveLength(0);
  await clock.advance(20_000);
  expect(slow.registrationsOf(ROLE)).toHaveLength(1);
});

describe('blueprints', () => {
  async function put(path: string, body: unknown, ifMatch?: string) {
    const response = await fetch(`${emulator.url}${path}`, {
      method: 'PUT',
      headers: { 'Authorization': `Bearer ${KEY}`, 'Content-Type': 'application/json', ...(ifMatch ? { 'If-Match': ifMatch } : {}) },
      body: JSON.stringify(body),
    });
    await response.text();
    return { status: response.status, etag: response.headers.get('etag') };
  }

  test('POST answers 201 with an ETag; PUT with the current If-Match answers 204 and a new ETag; a stale one 412', async () => {
    const created = await call('POST', '/blueprint', { data: { name: 'one', nodes: [] }, readAccess: ['team/x'] });
    expect(created.status).toBe(201);
    const etag = created.headers.get('etag')!;
    expect(etag).toMatch(/^".+"$/);
    expect(created.body).toMatchObject({ id: expect.any(String), name: 'one', CreatorId: 'u1', readAccess: ['team/x'] });
    const id = created.body.id;
    const got = await call('GET', `/blueprint/${id}`);
    expect(got.headers.get('etag')).toBe(etag);
    expect(got.body.data).toEqual({ name: 'one', nodes: [] });
    const updated = await put(`/blueprint/${id}`, { data: { name: 'one', nodes: [{ id: 'a' }] } }, etag);
    expect(updated.status).toBe(204);
    expect(updated.etag).not.toBe(etag);
    expect((await put(`/blueprint/${id}`, { data: { name: 'one' } }, etag)).status).toBe(412);
    emulator.editBlueprint(id);
    expect((await put(`/blueprint/${id}`, { data: { name: 'one' } }, updated.etag!)).status).toBe(412);
    // Without If-Match, a write is not guarded.
    expect((await put(`/blueprint/${id}`, { data: { name: 'one' } })).status).toBe(204);
    expect((await call('GET', '/blueprint')).body.blueprints.map((b: { id: string }) => b.id)).toEqual([id]);
    expect((await call('DELETE', `/blueprint/${id}`)).status).toBe(204);
    expect((await call('GET', `/blueprint/${id}`)).status).toBe(404);
  });

  test('exports have their own limit: 5 a minute per key', async () => {
    const clock = new VirtualClock();
    const local = new CloudcraftEmulator({ clock, users: [{ key: KEY, externalId: EXT }] });
    const send = (method: string, path: string, body?: unknown) => local.dispatch(method, path, `Bearer ${KEY}`, body === undefined ? '' : JSON.stringify(body));
    const created = await send('POST', '/blueprint', { data: { name: 'one' } });
    const id = created.kind === 'answer' ? JSON.parse(created.text).id : '';
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const answer = await send('GET', `/blueprint/${id}/png`);
      statuses.push(answer.kind === 'answer' ? answer.status : 0);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    await clock.advance(60_000);
    const again = await send('GET', `/blueprint/${id}/svg`);
    expect(again.kind === 'answer' && again.status).toBe(200);
  });
});

test('the live policies are served, and a test can change them or make them not JSON', async () => {
  const minimal = await call('GET', '/aws/account/iamParameters/policy/minimal');
  expect(minimal.status).toBe(200);
  expect(minimal.body.Statement.length).toBeGreaterThan(0);
  expect((await call('GET', '/aws/account/iamParameters/policy/custom')).body.Version).toBe('2012-10-17');
  emulator.policies.minimal = '<html>maintenance</html>';
  const response = await fetch(`${emulator.url}/aws/account/iamParameters/policy/minimal`, { headers: { Authorization: `Bearer ${KEY}` } });
  expect(await response.text()).toBe('<html>maintenance</html>');
});
