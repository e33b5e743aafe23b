/**
 * The Organization registrar's scenarios, on virtual time (test/support/registrar-world.ts): joins, closures, moves,
 * hand edits in Cloudcraft, Cloudcraft's faults and rate limits, the stack's lifecycle, and a seeded chaos test.
 *
 * Each scenario ends with the same check: exactly one registration per desired account, none for the others, and
 * every registration the registrar does not own untouched.
 */
import { Account } from './support/cloudcraft-emulator';
import {
  cfnEvent, clearLedger, cloudcraftCalls, envOf, EXTERNAL_ID, expectConverged, HOUR, instanceEvent, invoke, MANAGEMENT, member, OTHER_EXTERNAL_ID,
  propertiesOf, reconfigure, roleOf, API_KEY, useWorld, world,
} from './support/registrar-world';
import { parseEnvironment } from '../lib/organization/registrar/config';
import { ENVIRONMENT_VARIABLE } from '../lib/organization/registrar/contract';

useWorld();


test('a fresh Organization (nested OUs, pages of every listing): every account registered in one run, named from Organizations', async () => {
  const nested = world.orgs.addOu(world.ou, 'nested');
  const accounts = [...Array.from({ length: 7 }, (_, i) => member(`workload-${i}`)), ...Array.from({ length: 5 }, (_, i) => member(`nested-${i}`, { ou: nested }))];
  const summary = await invoke();
  expect(summary).toMatchObject({ desired: 13, registered: 13, pending: 0, failed: 0, complete: true });
  expectConverged([...accounts, MANAGEMENT]);
  expect(world.emulator.registrationsOf(roleOf(accounts[8]))[0].name).toBe('nested-1');
  // The key's external ID (once per key: the IAM parameters resource records it when it reads it), the list, 13 POSTs.
  expect(cloudcraftCalls()).toBe(1 + 1 + 13);
});

test('a run that changes nothing costs one Cloudcraft call', async () => {
  member('a');
  member('b');
  await invoke();
  const before = cloudcraftCalls();
  const summary = await invoke();
  expect(cloudcraftCalls() - before).toBe(1);
  expect(summary).toMatchObject({ calls: 1, registered: 3, complete: true });
});

test('only ACTIVE accounts whose stack instance SUCCEEDED, in the targets, filters applied', async () => {
  const ok = member('ok');
  member('pending-instance', { instance: 'RUNNING' });
  member('failed-instance', { instance: 'FAILED' });
  member('suspended', { state: 'SUSPENDED' });
  const outside = world.orgs.addOu(world.orgs.rootId, 'outside');
  member('other-ou', { ou: outside });
  const excluded = member('excluded');
  await reconfigure({ accountFilter: { type: 'DIFFERENCE', accounts: [excluded] } });
  await invoke();
  expectConverged([ok, MANAGEMENT]);
});

test('a new account is registered on its stack-instance event; events covered by a later run are skipped, with a margin', async () => {
  member('first');
  await invoke();
  const joined = member('joined');
  const event = instanceEvent();
  await world.clock.advance(1_000);
  const summary = await invoke(event);
  expect(summary.registered).toBe(3);
  expectConverged([joined, MANAGEMENT, ...[...world.emulator.accounts.values()].filter(a => a.name === 'first').map(a => a.roleArn.split(':')[4])]);
  // That run started in the same second as the event (EventBridge's time is whole seconds): it does not count as
  // covering it, and the event delivered again runs (the StackSet's instance may have been read before it succeeded).
  const before = cloudcraftCalls();
  expect((await invoke(event)).skipped).toBeUndefined();
  expect(cloudcraftCalls()).toBe(before + 1);
  // A run that started well after it does.
  await world.clock.advance(2 * 60_000);
  await invoke();
  const after = cloudcraftCalls();
  expect(await invoke(event)).toMatchObject({ skipped: 'covered by a later run' });
  expect(cloudcraftCalls()).toBe(after);
});

test('a run that started after an event but did not finish (Cloudcraft down) does not cover it: the event\'s run registers', async () => {
  member('first');
  await invoke();
  const joined = member('joined');
  const event = instanceEvent();
  await world.clock.advance(1_000);
  world.emulator.inject({ method: 'GET', path: '/aws/account', status: 503, text: 'unavailable', times: 100_000 });
  expect((await invoke(undefined, 2 * 60_000)).complete).toBe(false);
  world.emulator.clearFaults();
  const summary = await invoke(event);
  expect(summary.skipped).toBeUndefined();
  expect(world.emulator.registrationsOf(roleOf(joined))).toHaveLength(1);
});

test('accounts that close, are suspended, leave, or move out of the targets are deregistered after the grace period, not before', async () => {
  const closing = member('closing');
  const suspended = member('suspended');
  const leaving = member('leaving');
  const moving = member('moving');
  const staying = member('staying');
  await invoke();
  world.orgs.setState(closing, 'CLOSED');
  world.orgs.setState(suspended, 'SUSPENDED');
  world.orgs.removeAccount(leaving);
  world.orgs.moveAccount(moving, world.orgs.addOu(world.orgs.rootId, 'elsewhere'));
  await invoke();
  expect(world.emulator.accounts.size).toBe(6);
  await world.clock.advance(23 * HOUR);
  await invoke();
  expect(world.emulator.accounts.size).toBe(6);
  await world.clock.advance(2 * HOUR);
  const summary = await invoke();
  expect(summary.removed).toBe(4);
  expectConverged([staying, MANAGEMENT]);
});

test.each(['FAILED', 'CANCELLED'])('a StackSet update %s on an account: its registration stays (the member stack rolled back, its role is there)', async (status) => {
  const registered = member('registered');
  await invoke();
  const id = world.emulator.registrationsOf(roleOf(registered))[0].id;
  const firstTime = member('first-deployment-failed', { instance: status });
  world.cfn.setInstance({ account: registered, region: 'us-east-1', ou: world.ou, status: 'OUTDATED', detailedStatus: status });
  await invoke();
  await world.clock.advance(30 * HOUR);
  await invoke();
  // Kept, with the same ID (deregistering would change it in every diagram); one that never had a role is not registered.
  expect(world.emulator.registrationsOf(roleOf(registered)).map(a => a.id)).toEqual([id]);
  expect(world.emulator.registrationsOf(roleOf(firstTime))).toEqual([]);
});

test('an account that comes back within the grace period keeps its registration', async () => {
  const flapping = member('flapping');
  await invoke();
  const id = world.emulator.registrationsOf(roleOf(flapping))[0].id;
  world.cfn.setInstance({ account: flapping, region: 'us-east-1', ou: world.ou, status: 'OUTDATED', detailedStatus: 'FAILED' });
  await invoke();
  await world.clock.advance(HOUR);
  world.cfn.setInstance({ account: flapping, region: 'us-east-1', ou: world.ou, status: 'CURRENT', detailedStatus: 'SUCCEEDED' });
  await invoke();
  await world.clock.advance(30 * HOUR);
  await invoke();
  expect(world.emulator.registrationsOf(roleOf(flapping)).map(a => a.id)).toEqual([id]);
});

test('registrations deleted or renamed by hand in Cloudcraft are restored', async () => {
  const deleted = member('deleted');
  const renamed = member('renamed');
  await invoke();
  world.emulator.accounts.delete(world.emulator.registrationsOf(roleOf(deleted))[0].id);
  world.emulator.registrationsOf(roleOf(renamed))[0].name = 'changed by hand';
  await invoke();
  expectConverged([deleted, renamed, MANAGEMENT]);
  expect(world.emulator.registrationsOf(roleOf(renamed))[0].name).toBe('renamed');
});

test('registrations it does not own are never touched: other roles, other accounts, another user\'s registration of its role', async () => {
  const mine = member('mine');
  const theirs = member('theirs');
  const otherRole = world.emulator.seedAccount({ name: 'by hand', roleArn: `arn:aws:iam::${mine}:role/ReadOnly` });
  const stranger = world.emulator.seedAccount({ name: 'stranger', roleArn: 'arn:aws:iam::999999999999:role/cloudcraft' });
  const conflict = world.emulator.seedAccount({ name: 'another user', roleArn: roleOf(theirs), externalId: OTHER_EXTERNAL_ID });
  const snapshot = [otherRole, stranger, conflict].map(a => ({ ...a }));
  const summary = await invoke();
  expect(summary).toMatchObject({ registered: 2, failed: 1 });
  expect(world.logs.some(l => l.includes('another Cloudcraft user'))).toBe(true);
  for (const before of snapshot) expect(world.emulator.accounts.get(before.id)).toEqual(before);
  expect(world.emulator.registrationsOf(roleOf(mine))).toHaveLength(1);
});

test('the external ID neither given nor recorded: asked of Cloudcraft (one call), so another user\'s registration is still never taken', async () => {
  await reconfigure({ externalId: undefined });
  const theirs = member('theirs');
  const conflict = { ...world.emulator.seedAccount({ name: 'another user', roleArn: roleOf(theirs), externalId: OTHER_EXTERNAL_ID }) };
  expect(await invoke()).toMatchObject({ registered: 1, failed: 1 });
  expect(world.emulator.callsTo('GET', '/aws/account/iamParameters')).toHaveLength(1);
  world.orgs.setState(theirs, 'CLOSED');
  await invoke();
  await world.clock.advance(30 * HOUR);
  await invoke();
  expect(world.emulator.accounts.get(conflict.id)).toEqual(conflict);
});

test('a second registration of an owned role that the user adds by hand later is the user\'s: kept through runs and the account\'s removal', async () => {
  const account = member('shared');
  await invoke();
  const owned = world.emulator.registrationsOf(roleOf(account))[0];
  await world.clock.advance(HOUR);
  const now = world.clock.now();
  const byHand = world.emulator.seedAccount({ name: 'shared (team B)', roleArn: roleOf(account), createdAt: new Date(now).toISOString(), updatedAt: new Date(now).toISOString() });
  const snapshot = { ...byHand };
  await invoke();
  expect(world.emulator.accounts.get(byHand.id)).toEqual(snapshot);
  world.orgs.setState(account, 'CLOSED');
  await invoke();
  await world.clock.advance(25 * HOUR);
  expect((await invoke()).removed).toBe(1);
  expect(world.emulator.accounts.has(owned.id)).toBe(false);
  expect(world.emulator.accounts.get(byHand.id)).toEqual(snapshot);
});

test('an existing registration of its role by the same user is adopted and corrected, not duplicated', async () => {
  const adopted = member('adopted');
  const existing = world.emulator.seedAccount({ name: 'added by hand', roleArn: roleOf(adopted) });
  await invoke();
  expect(world.emulator.registrationsOf(roleOf(adopted))).toEqual([expect.objectContaining({ id: existing.id, name: 'adopted' })]);
});

describe('Cloudcraft failing', () => {
  test('5xx after the POST was done: the registration is recognised, not duplicated', async () => {
    const account = member('a');
    world.emulator.inject({ method: 'POST', status: 503, text: '<html>unavailable</html>', afterAction: true });
    const summary = await invoke();
    expectConverged([account, MANAGEMENT]);
    expect(summary.registered).toBe(2);
  });

  test('a POST that Cloudcraft completes 20 s after the client gave up: still exactly one registration', async () => {
    const account = member('slow');
    world.emulator.inject({ method: 'POST', path: '/aws/account', actionDelayMs: 35_000 });
    const first = await invoke();
    expectConverged([account, MANAGEMENT]);
    expect(first.registered).toBe(2);
    await invoke();
    expectConverged([account, MANAGEMENT]);
  });

  test('a POST answered 2xx without JSON is looked for before posting again', async () => {
    const account = member('html');
    world.emulator.inject({ method: 'POST', status: 200, text: '<html>ok</html>', afterAction: true });
    await invoke();
    expectConverged([account, MANAGEMENT]);
  });

  test('Cloudcraft down for the whole run: nothing lost, the next run finishes', async () => {
    const accounts = [member('a'), member('b')];
    world.emulator.inject({ status: 502, text: 'bad gateway', times: 10_000 });
    const down = await invoke();
    expect(down.complete).toBe(false);
    expect(down.error).toMatch(/502/);
    world.emulator.clearFaults();
    const up = await invoke();
    expect(up).toMatchObject({ registered: 3, complete: true });
    expectConverged([...accounts, MANAGEMENT]);
  });

  test.each([
    ['20 per minute, 429s counted', 60_000, true],
    ['20 per minute, 429s not counted', 60_000, false],
    ['20 per 10 s, 429s counted', 10_000, true],
  ])('rate limited (%s): everything registered, 429s at most 1%% of calls', async (_name, windowMs, countRejected) => {
    world.emulator.rateLimit = { requests: 20, windowMs, retryAfter: 'seconds', countRejected };
    const accounts = Array.from({ length: 60 }, (_, i) => member(`acct-${i}`));
    const summary = await invoke();
    expectConverged([...accounts, MANAGEMENT]);
    expect(summary.rejected429 / summary.calls).toBeLessThanOrEqual(0.02);
    expect(world.emulator.rejected429).toBe(summary.rejected429);
  });
});

test('a run stopped at its deadline leaves a state the next run finishes, and asks for a continuation', async () => {
  world.emulator.rateLimit = { requests: 20, windowMs: 60_000, retryAfter: 'seconds' };
  const accounts = Array.from({ length: 50 }, (_, i) => member(`acct-${i}`));
  const first = await invoke(undefined, 90_000);
  expect(first.complete).toBe(false);
  expect(first.registered).toBeLessThan(51);
  expect(world.aws.invocations).toEqual([{ functionName: 'registrar', payload: { cdkCloudcraft: 'continue', depth: 1, force: false } }]);
  let summary = first;
  for (let i = 0; i < 5 && !summary.complete; i++) summary = await invoke(world.aws.invocations.at(-1)!.payload);
  expect(summary.complete).toBe(true);
  expectConverged([...accounts, MANAGEMENT]);
});

test.each([false, true])('team access not managed: sharing set up in Cloudcraft survives a rename (PUT clears omitted lists: %s)', async (clears) => {
  world.emulator.putClearsOmittedAccess = clears;
  const account = member('a');
  await invoke();
  const [registration] = world.emulator.registrationsOf(roleOf(account));
  // Shared by hand in Cloudcraft, with one team to read and none to write.
  Object.assign(world.emulator.accounts.get(registration.id)!, { readAccess: ['team/x'], writeAccess: [] });
  world.orgs.renameAccount(account, 'a-renamed');
  await invoke();
  expect(world.emulator.accounts.get(registration.id)).toMatchObject({ name: 'a-renamed', readAccess: ['team/x'], writeAccess: [] });
});

test('a registration re-pointed by hand at another role is pointed back (the account\'s role counted as registered)', async () => {
  const account = member('a');
  await invoke();
  const [registration] = world.emulator.registrationsOf(roleOf(account));
  world.emulator.addRole('arn:aws:iam::999999999999:role/other', { externalId: EXTERNAL_ID });
  world.emulator.accounts.get(registration.id)!.roleArn = 'arn:aws:iam::999999999999:role/other';
  const summary = await invoke();
  expect(world.emulator.accounts.get(registration.id)?.roleArn).toBe(roleOf(account));
  expect(summary).toMatchObject({ registered: 2, complete: true });
  expectConverged([account, MANAGEMENT]);
});

test('a registration refused run after run backs off, doubling: about 5 minutes, then 10, 20 (it stayed at 5)', async () => {
  const refused = member('refused');
  // The role trusts another external ID than the key user's: Cloudcraft cannot verify it (400), every time.
  world.emulator.addRole(roleOf(refused), { externalId: OTHER_EXTERNAL_ID });
  const posts = () => world.emulator.callsTo('POST').filter(c => c.body?.roleArn === roleOf(refused)).length;
  await invoke();
  const gaps: number[] = [];
  let last = posts();
  let since = world.clock.now();
  for (let minute = 0; minute < 60; minute++) {
    await world.clock.advance(60_000);
    await invoke();
    if (posts() > last) {
      gaps.push(Math.round((world.clock.now() - since) / 60_000));
      last = posts();
      since = world.clock.now();
    }
  }
  expect(gaps.slice(0, 3)).toEqual([expect.any(Number), expect.any(Number), expect.any(Number)]);
  expect(gaps[1]).toBeGreaterThanOrEqual(2 * gaps[0] - 2);
  expect(gaps[2]).toBeGreaterThanOrEqual(2 * gaps[1] - 2);
});

test('POSTs that Cloudcraft never confirms (5xx, nothing made): after 3 the account is reported failed and backed off', async () => {
  const stuck = member('stuck');
  world.emulator.inject({ method: 'POST', path: '/aws/account', status: 500, body: { error: 'Internal', reason: 'internal_server_error', code: 500 }, times: 100_000 });
  const posts = () => world.emulator.callsTo('POST').filter(c => c.body?.roleArn === roleOf(stuck)).length;
  await invoke(); // three rounds: three POSTs, each looked for a minute later
  expect(posts()).toBe(3);
  await world.clock.advance(60_000);
  const next = await invoke();
  expect(posts()).toBe(3);
  expect(next).toMatchObject({ failed: 2, complete: true }); // the management account too: every POST fails
  expect(world.logs.some(l => l.includes('3 POSTs unconfirmed'))).toBe(true);
  // Stack-instance events and schedules within the back-off send nothing more.
  for (let i = 0; i < 3; i++) {
    await world.clock.advance(60_000);
    await invoke(instanceEvent());
  }
  expect(posts()).toBe(3);
  // Cloudcraft is fixed: registered after the back-off.
  world.emulator.clearFaults();
  await world.clock.advance(10 * 60_000);
  await invoke();
  expectConverged([stuck, MANAGEMENT]);
});

test('the ledger and Cloudcraft disagreeing: a stale ledger entry is corrected from Cloudcraft', async () => {
  const account = member('a');
  await invoke();
  const registration = world.emulator.registrationsOf(roleOf(account))[0];
  // Cloudcraft's registration replaced by hand with another one of the same role (same user): adopted.
  world.emulator.accounts.delete(registration.id);
  const replacement = world.emulator.seedAccount({ name: 'a', roleArn: roleOf(account) });
  await invoke();
  expect(world.emulator.registrationsOf(roleOf(account)).map(a => a.id)).toEqual([replacement.id]);
});

describe('configuration', () => {
  test.each(['https://api.cloudcraft.co', 'http://127.0.0.1:4010', 'http://localhost:4010/api'])('%s is taken', (apiUrl) => {
    expect(parseEnvironment(JSON.stringify({ ...envOf(world.config), apiUrl })).apiUrl).toBe(apiUrl.replace(/\/+$/, ''));
  });

  test('a deploy-time http:// apiUrl: the registrar does nothing, calls nobody, and a deployment fails with the reason', async () => {
    const saved = process.env[ENVIRONMENT_VARIABLE];
    process.env[ENVIRONMENT_VARIABLE] = JSON.stringify({ ...envOf(world.config), apiUrl: 'http://api.cloudcraft.co' });
    try {
      // No environment given: the registrar reads its variable, as on Lambda.
      const summary = await invoke(undefined, 60_000, world, { environment: undefined });
      expect(summary.error).toMatch(/apiUrl http:\/\/api.cloudcraft.co is not https:\/\//);
      await invoke(cfnEvent('Create'), 60_000, world, { environment: undefined });
      expect(world.answers.at(-1).body).toMatchObject({ Status: 'FAILED', Reason: expect.stringMatching(/not https/) });
      expect(world.emulator.calls).toHaveLength(0);
    } finally {
      if (saved === undefined) delete process.env[ENVIRONMENT_VARIABLE];
      else process.env[ENVIRONMENT_VARIABLE] = saved;
    }
  });

  test('the settings come with the deployment, not from an environment variable: an Update records new ones and the run uses them', async () => {
    const account = member('a');
    await invoke();
    world.config = { ...world.config, naming: { pattern: '{name} ({accountId})', names: { [account]: 'Payments' } } };
    await invoke(cfnEvent('Update'));
    expect(world.answers.at(-1).body).toMatchObject({ Status: 'SUCCESS' });
    expect(world.emulator.registrationsOf(roleOf(account))[0].name).toBe('Payments');
    expect(world.emulator.registrationsOf(roleOf(MANAGEMENT))[0].name).toBe(`management (${MANAGEMENT})`);
  });

  test('a deployment whose settings cannot be read fails with the reason, and changes nothing', async () => {
    member('a');
    await invoke();
    const before = world.emulator.calls.length;
    const broken = { ...cfnEvent('Update'), ResourceProperties: { ...propertiesOf(world.config), Settings: { callAs: 'SELF' } } };
    await invoke(broken);
    expect(world.answers.at(-1).body).toMatchObject({ Status: 'FAILED', Reason: expect.stringMatching(/Settings lacks homeRegion/) });
    expect(world.emulator.calls).toHaveLength(before);
  });
});

describe('as the custom resource of its stack', () => {
  test('Create answers SUCCESS first (the deployment does not wait), then reconciles', async () => {
    const account = member('a');
    const summary = await invoke(cfnEvent('Create'));
    expect(world.answers).toEqual([expect.objectContaining({ contentType: '', body: expect.objectContaining({ Status: 'SUCCESS', PhysicalResourceId: 'cloudcraft-registrar:cloudcraft-integration' }) })]);
    expect(summary.registered).toBe(2);
    expectConverged([account, MANAGEMENT]);
  });

  test('Delete deregisters everything the ledger owns, and nothing else', async () => {
    member('a');
    member('b');
    const stranger = world.emulator.seedAccount({ name: 'stranger', roleArn: 'arn:aws:iam::999999999999:role/cloudcraft' });
    await invoke();
    const summary = await invoke(cfnEvent('Delete'));
    expect(summary).toMatchObject({ removed: 3, complete: true });
    expect([...world.emulator.accounts.values()].map(a => a.id)).toEqual([stranger.id]);
    expect(world.answers.at(-1).body).toMatchObject({ Status: 'SUCCESS', Reason: 'Removed 3 registrations from Cloudcraft.' });
  });

  test('the ResponseURL fails for a minute (503): the Delete\'s answer is PUT again until it lands', async () => {
    member('a');
    await invoke();
    world.answerFailures = 10;
    await invoke(cfnEvent('Delete'));
    expect(world.answerFailures).toBe(0);
    expect(world.answers.at(-1).body).toMatchObject({ Status: 'SUCCESS', Reason: 'Removed 2 registrations from Cloudcraft.' });
  });

  test('a Delete that runs out of time continues itself within CloudFormation\'s window, and the last invocation answers', async () => {
    const accounts = Array.from({ length: 40 }, (_, i) => member(`acct-${i}`));
    await invoke();
    expectConverged([...accounts, MANAGEMENT]);
    world.emulator.rateLimit = { requests: 20, windowMs: 60_000, retryAfter: 'seconds' };
    // Each invocation has 2 minutes here (15 on Lambda): about 40 removals each at 20 a minute.
    const first = await invoke(cfnEvent('Delete'), 2 * 60_000);
    expect(first.complete).toBe(false);
    expect(world.answers).toHaveLength(0);
    let removed = first.removed;
    for (let i = 0; i < 10 && world.answers.length === 0; i++) {
      const next = world.aws.invocations.at(-1)!.payload;
      expect(next).toMatchObject({ cdkCloudcraft: 'delete', event: { RequestType: 'Delete', RequestId: 'req-Delete' }, removed });
      removed += (await invoke(next, 2 * 60_000)).removed;
    }
    expect(world.emulator.accounts.size).toBe(0);
    expect(world.answers).toEqual([expect.objectContaining({ body: expect.objectContaining({ Status: 'SUCCESS', Reason: 'Removed 41 registrations from Cloudcraft.', RequestId: 'req-Delete' }) })]);
    expect(removed).toBe(41);
  });

  test('a POST refused after an earlier one went unconfirmed: the earlier one\'s late registration is still removed by the Delete', async () => {
    member('first');
    await invoke();
    const a = member('a');
    // POST 1 completes 100 s later, after the client gave up; POST 2 (after the 60 s settle) is refused.
    world.emulator.inject({ method: 'POST', path: '/aws/account', actionDelayMs: 100_000 });
    world.emulator.inject({ method: 'POST', path: '/aws/account', status: 400, body: { error: 'Invalid parameter', reason: 'invalid_parameter', code: 400 } });
    await invoke();
    await world.clock.advance(5 * 60_000);
    expect(world.emulator.registrationsOf(roleOf(a))).toHaveLength(1);
    const removal = await invoke(cfnEvent('Delete'));
    expect(removal.complete).toBe(true);
    expect(world.emulator.accounts.size).toBe(0);
  });

  test('a Delete while Cloudcraft is down continues (no progress, but its whole time spent), and removes when it is back', async () => {
    member('a');
    await invoke();
    world.emulator.inject({ method: 'GET', path: '/aws/account', status: 503, text: 'unavailable', times: 100_000 });
    const first = await invoke(cfnEvent('Delete'), 2 * 60_000);
    expect(first).toMatchObject({ removed: 0, complete: false });
    expect(world.answers).toHaveLength(0);
    world.emulator.clearFaults();
    await invoke(world.aws.invocations.at(-1)!.payload);
    expect(world.answers.at(-1).body).toMatchObject({ Status: 'SUCCESS', Reason: 'Removed 2 registrations from Cloudcraft.' });
    expect(world.emulator.accounts.size).toBe(0);
  });

  test('a Delete answers instead of continuing when CloudFormation\'s window is nearly over (X-Amz-Date of the ResponseURL)', async () => {
    const accounts = Array.from({ length: 40 }, (_, i) => member(`acct-${i}`));
    await invoke();
    world.emulator.rateLimit = { requests: 20, windowMs: 60_000, retryAfter: 'seconds' };
    const amzDate = (at: number) => new Date(at).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
    const sent = world.clock.now() - 54 * 60_000; // sent 54 minutes ago (a queue ahead of it), ServiceTimeout an hour
    const late = { ...cfnEvent('Delete'), ResponseURL: `https://cloudformation-answers.test/answer/1?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=${amzDate(sent)}&X-Amz-Expires=7200` };
    const continuations = world.aws.invocations.length;
    const summary = await invoke(late);
    // It stopped 5 minutes before the window's end (a minute from its start), not at the function's 15 minutes.
    expect(world.clock.now() - sent).toBeLessThanOrEqual(55 * 60_000);
    expect(summary.complete).toBe(false);
    expect(world.aws.invocations).toHaveLength(continuations);
    expect(world.answers.at(-1).body).toMatchObject({ Status: 'SUCCESS', Reason: expect.stringMatching(/registrations; \d+ remain in Cloudcraft/) });
    expect(world.emulator.accounts.size).toBeGreaterThan(0);
    expect(world.emulator.accounts.size).toBeLessThan(accounts.length);
  });

  test('after the Delete, a run still queued (schedule, stack-instance event, continuation) registers nothing', async () => {
    // An invocation sent before the Delete can start after it (Lambda retries, EventBridge delivers late), while the
    // function, the StackSet and its instances still exist (CloudFormation removes them after the custom resource answers).
    member('a');
    member('b');
    await invoke();
    await invoke(cfnEvent('Delete'));
    expect(world.emulator.accounts.size).toBe(0);
    const posts = world.emulator.callsTo('POST').length;
    await world.clock.advance(60_000);
    const runs = [
      await invoke(),
      await invoke(instanceEvent()),
      await invoke({ cdkCloudcraft: 'continue', depth: 1 }),
    ];
    expect(world.emulator.callsTo('POST')).toHaveLength(posts);
    expect(world.emulator.accounts.size).toBe(0);
    for (const run of runs) expect(run).toMatchObject({ skipped: expect.stringMatching(/Delete started/), calls: 0 });
    // A Create delivered again after the Delete (CloudFormation may deliver an event twice; Lambda retries): answered,
    // nothing done. The ledger table belongs to this stack: no real deployment of it can follow its Delete.
    const stale = await invoke(cfnEvent('Create'));
    expect(stale).toMatchObject({ skipped: 'deleted', calls: 0 });
    expect(world.answers.at(-1).body).toMatchObject({ Status: 'SUCCESS', Reason: expect.stringMatching(/deleted this registrar/) });
    expect(world.emulator.accounts.size).toBe(0);
    expect(await invoke()).toMatchObject({ skipped: expect.stringMatching(/Delete started/) });
  });

  test('a ledger without its deployment (emptied, or restored without it): runs do nothing and say so at warn level and in a metric; the next deployment brings it back', async () => {
    await invoke();
    clearLedger();
    member('a');
    for (const event of [undefined, instanceEvent()]) {
      expect(await invoke(event)).toMatchObject({ skipped: 'no deployment recorded', calls: 0 });
    }
    const lines = world.logs.map(l => JSON.parse(l));
    expect(lines.filter(l => l.msg === 'no deployment recorded').map(l => l.level)).toEqual(['warn', 'warn']);
    expect(lines.filter(l => l._aws).at(-1)).toMatchObject({ LedgerMissing: 1 });
    expect(lines.filter(l => l._aws).at(-1).AccountsUnregistered).toBeUndefined();
    expect(world.emulator.accounts.size).toBe(1);
    await invoke(cfnEvent('Update'));
    expect(world.emulator.accounts.size).toBe(2);
  });

  test('the Delete right after a POST Cloudcraft completes late removes that registration too (no orphan)', async () => {
    member('slow');
    await invoke();
    // The next account's POST is completed by Cloudcraft 2 min later, after the client gave up and after the run ended.
    member('late');
    world.emulator.inject({ method: 'POST', path: '/aws/account', actionDelayMs: 120_000 });
    await invoke(undefined, 60_000);
    const before = world.emulator.accounts.size;
    const summary = await invoke(cfnEvent('Delete'));
    expect(before).toBe(2);
    expect(world.emulator.accounts.size).toBe(0);
    expect(summary).toMatchObject({ complete: true, removed: 3 });
  });

  test('the Delete keeps in the ledger a POST that may still complete, and says so', async () => {
    member('a');
    world.emulator.inject({ method: 'POST', path: '/aws/account', hangMs: Infinity, times: 50 });
    await invoke(undefined, 60_000);
    world.emulator.clearFaults();
    const summary = await invoke(cfnEvent('Delete'));
    expect(summary.complete).toBe(false);
    expect(world.answers.at(-1).body).toMatchObject({ Status: 'SUCCESS', Reason: expect.stringMatching(/\d+ remain in Cloudcraft, listed in the ledger table ledger/) });
    // Past the POST's window the entry owns nothing and is forgotten.
    await world.clock.advance(30 * 60_000);
    expect(await invoke(cfnEvent('Delete'))).toMatchObject({ complete: true });
  });

  test('a Create whose settings cannot be written: answered FAILED with the reason, nothing registered; deployed again, it works', async () => {
    clearLedger();
    member('a');
    world.aws.failNext('PutItem', 'ProvisionedThroughputExceededException', 1, input => input.expected === undefined);
    await invoke(cfnEvent('Create'));
    expect(world.answers.at(-1).body).toMatchObject({ Status: 'FAILED', Reason: expect.stringMatching(/cannot write its ledger table ledger \(ProvisionedThroughputExceededException\)/) });
    expect(world.emulator.accounts.size).toBe(0);
    await invoke(cfnEvent('Create'));
    expect(world.answers.at(-1).body).toMatchObject({ Status: 'SUCCESS' });
    expect(world.emulator.accounts.size).toBe(2);
  });

  test('the Delete of a replaced resource (StackSet renamed, or that rename rolled back) removes nothing', async () => {
    member('a');
    await invoke();
    const before = [...world.emulator.accounts.values()].map(a => ({ ...a }));
    const summary = await invoke({ ...cfnEvent('Delete'), PhysicalResourceId: 'cloudcraft-registrar:old-stackset-name' });
    expect(summary.removed).toBe(0);
    expect([...world.emulator.accounts.values()]).toEqual(before);
    expect(world.emulator.callsTo('DELETE')).toHaveLength(0);
    expect(world.answers.at(-1).body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'cloudcraft-registrar:old-stackset-name' });
    // The next run still owns them: nothing is registered again.
    await invoke();
    expect(world.emulator.callsTo('POST')).toHaveLength(2);
    expect(world.emulator.callsTo('DELETE')).toHaveLength(0);
  });

  test('the IAM parameters custom resource answers the key owner\'s external ID', async () => {
    await invoke(cfnEvent('Create', 'Custom::CloudcraftIamParameters'));
    expect(world.answers[0].body).toMatchObject({ Status: 'SUCCESS', Data: { ExternalId: EXTERNAL_ID, AccountId: '968898580625' } });
  });
});

test('observability: one metrics line (CloudWatch EMF) per run; the key is in no log line', async () => {
  member('a');
  await invoke();
  const emf = world.logs.map(l => JSON.parse(l)).filter(l => l._aws);
  expect(emf).toHaveLength(1);
  // The key's external ID (the first run with this key), the list, two POSTs.
  expect(emf[0]).toMatchObject({ StackSetName: 'cloudcraft-integration', AccountsDesired: 2, AccountsRegistered: 2, AccountsUnregistered: 0, CloudcraftCalls: 4 });
  expect(emf[0]._aws.CloudWatchMetrics[0].Metrics.map((m: any) => m.Name)).toEqual(expect.arrayContaining(['AccountsFailed', 'AccountsPending', 'CloudcraftRateLimited']));
  for (const line of world.logs) {
    expect(line).not.toContain(API_KEY);
    expect(line).not.toContain(API_KEY.slice(10, 20));
  }
});

test('a run that cannot read the Organization changes nothing and publishes no account figure (the alarm sees missing data)', async () => {
  const account = member('a');
  await invoke();
  const before = [...world.emulator.accounts.values()].map(a => ({ ...a }));
  world.aws.failNext('ListAccountsForParent', 'AccessDeniedException', 100);
  await world.clock.advance(30 * HOUR);
  const summary = await invoke();
  expect(summary.error).toMatch(/AccessDeniedException/);
  expect([...world.emulator.accounts.values()]).toEqual(before);
  const emf = world.logs.map(l => JSON.parse(l)).filter(l => l._aws);
  expect(emf.at(-1).AccountsUnregistered).toBeUndefined();
  expectConverged([account, MANAGEMENT]);
});

test('a target OU that no longer exists stops nothing but that target: the error names it, the other targets are registered, nothing is removed', async () => {
  const gone = world.orgs.addOu(world.orgs.rootId, 'to-be-deleted');
  const kept = member('kept');
  const inGone = member('in-the-gone-ou', { ou: gone });
  await reconfigure({ targets: [world.ou, gone] });
  await invoke();
  expectConverged([kept, inGone, MANAGEMENT]);
  world.orgs.removeOu(gone);
  const joined = member('joined');
  // Past the grace period, several runs: the unread OU's account is never deregistered.
  for (let i = 0; i < 3; i++) {
    await world.clock.advance(12 * HOUR);
    const summary = await invoke();
    expect(summary.error).toMatch(new RegExp(`The target ${gone} of organizationalUnitIds no longer exists .*ParentNotFoundException.*change organizationalUnitIds`));
  }
  expectConverged([kept, inGone, joined, MANAGEMENT]);
  expect(world.emulator.callsTo('DELETE')).toHaveLength(0);
});

test('accounts that join, move, close or leave while a run is going: the run finishes, the next ones converge', async () => {
  world.emulator.rateLimit = { requests: 20, windowMs: 60_000, retryAfter: 'seconds' };
  const accounts = Array.from({ length: 30 }, (_, i) => member(`acct-${i}`));
  const other = world.orgs.addOu(world.orgs.rootId, 'elsewhere');
  let joined = '';
  // Thirty simulated seconds into the run (it is pacing 31 registrations under 20 a minute), the Organization changes.
  void world.clock.sleep(30_000).then(() => {
    joined = member('joined-during-the-run');
    world.orgs.setState(accounts[0], 'CLOSED');
    world.orgs.removeAccount(accounts[1]);
    world.orgs.moveAccount(accounts[2], other);
  });
  await invoke();
  expect(joined).not.toBe('');
  await invoke();
  await world.clock.advance(25 * HOUR);
  const last = await invoke();
  expect(last.complete).toBe(true);
  expectConverged([...accounts.slice(3), joined, MANAGEMENT]);
});

test('a lost ledger (the table emptied) is rebuilt without a duplicate at the next deployment: its registrations are adopted again', async () => {
  const accounts = [member('a'), member('b')];
  await invoke();
  const ids = [...world.emulator.accounts.keys()].sort();
  clearLedger();
  expect(await invoke()).toMatchObject({ skipped: 'no deployment recorded', calls: 0 });
  const summary = await invoke(cfnEvent('Update'));
  expect(summary).toMatchObject({ registered: 3, complete: true });
  expect([...world.emulator.accounts.keys()].sort()).toEqual(ids);
  expectConverged([...accounts, MANAGEMENT]);
});

test('team access: the same for every account, or by OU (nearest listed OU wins); [] unshares, left out is not managed', async () => {
  const teamOu = world.orgs.addOu(world.ou, 'payments');
  const deeper = world.orgs.addOu(teamOu, 'payments-prod');
  const plain = member('plain');
  const payments = member('payments', { ou: teamOu });
  const prod = member('payments-prod', { ou: deeper });
  await reconfigure({ access: { read: ['all-readers'], byOu: { [teamOu]: { read: ['payments'], write: ['payments-admins'] }, [deeper]: { read: [] } } } });
  await invoke();
  const of = (account: string) => world.emulator.registrationsOf(roleOf(account))[0];
  expect(of(plain)).toMatchObject({ readAccess: ['team/all-readers'], writeAccess: null });
  expect(of(payments)).toMatchObject({ readAccess: ['team/payments'], writeAccess: ['team/payments-admins'] });
  expect(of(prod)).toMatchObject({ readAccess: [], writeAccess: null });
  // Changed by hand: corrected where managed, left alone where not.
  of(plain).readAccess = ['team/someone'];
  of(plain).writeAccess = ['team/by-hand'];
  await invoke();
  expect(of(plain)).toMatchObject({ readAccess: ['team/all-readers'], writeAccess: ['team/by-hand'] });
});

test('nested targets (an OU and one inside it, in either order): an account gets the access of its nearest listed OU', async () => {
  const outer = world.orgs.addOu(world.ou, 'outer');
  const inner = world.orgs.addOu(outer, 'inner');
  const account = member('deep', { ou: inner });
  world.cfn.setInstance({ account, region: 'us-east-1', ou: inner, status: 'CURRENT', detailedStatus: 'SUCCEEDED' });
  await reconfigure({ targets: [inner, outer], access: { byOu: { [outer]: { read: ['outer-team'] } } } });
  await invoke();
  expect(world.emulator.registrationsOf(roleOf(account))[0]).toMatchObject({ readAccess: ['team/outer-team'] });
});

/** A small seeded generator (Park-Miller): every chaos run is reproducible from its seed. */
function prng(seed: number): () => number {
  let state = (seed % 2_147_483_646) + 1;
  return () => {
    state = (state * 48_271) % 2_147_483_647;
    return (state - 1) / 2_147_483_646;
  };
}

describe('chaos: the Organization, people in Cloudcraft and Cloudcraft\'s faults change at random between and during runs', () => {
  // Each seed: 12 rounds of random changes and faults, a run with a random deadline, and a random wait; then the faults
  // stop and the registrar gets a grace period and two runs. It must end with exactly one registration of its own per
  // desired account, none for the others, and every registration it does not own (strangers, another user's, a second
  // one a person added by hand) exactly as it was, at every step.
  test.each([1, 2, 3, 4, 5, 6, 7, 8])('seed %i', async seed => {
    const random = prng(seed);
    const pick = <T>(items: T[]): T | undefined => (items.length ? items[Math.floor(random() * items.length)] : undefined);
    const elsewhere = world.orgs.addOu(world.orgs.rootId, 'elsewhere');
    interface Model { name: string; active: boolean; inTargets: boolean; succeeded: boolean; hasUserCopy: boolean }
    const model = new Map<string, Model>();
    const join = () => {
      const name = `m${model.size}`;
      model.set(member(name), { name, active: true, inTargets: true, succeeded: true, hasUserCopy: false });
    };
    for (let i = 0; i < 5; i++) join();
    const untouched: Account[] = [];
    const expectUntouched = () => {
      for (const before of untouched) expect(world.emulator.accounts.get(before.id)).toEqual(before);
    };
    const isDesired = (m: Model) => m.active && m.inTargets && m.succeeded;
    const faults = [
      { method: 'POST', status: 503, text: 'unavailable', afterAction: true },
      { method: 'POST', reset: true },
      { method: 'POST', path: '/aws/account', actionDelayMs: 35_000 },
      { method: 'POST', status: 200, text: '<html>ok</html>', afterAction: true },
      { method: 'GET', path: '/aws/account', status: 500, text: 'oops' },
      { method: 'DELETE', status: 503, text: 'unavailable', afterAction: true },
      { method: 'PUT', status: 502, text: 'bad gateway' },
    ];

    for (let round = 0; round < 12; round++) {
      // The Organization.
      if (random() < 0.4) join();
      const live = [...model.entries()].filter(([, m]) => m.active && m.inTargets);
      const [closing, c] = pick(live) ?? [];
      if (closing && c && random() < 0.2) {
        world.orgs.setState(closing, 'CLOSED');
        c.active = false;
      }
      const [moving, mv] = pick(live.filter(([, m]) => m.active)) ?? [];
      if (moving && mv && random() < 0.15) {
        world.orgs.moveAccount(moving, elsewhere);
        mv.inTargets = false;
      }
      const [flapping, f] = pick(live.filter(([, m]) => m.active && !m.hasUserCopy)) ?? [];
      if (flapping && f && random() < 0.25) {
        f.succeeded = !f.succeeded;
        // Not succeeded: INOPERABLE (the role cannot be relied on); a FAILED update keeps a registered account.
        world.cfn.setInstance({ account: flapping, region: 'us-east-1', ou: world.ou, status: f.succeeded ? 'CURRENT' : 'INOPERABLE', detailedStatus: f.succeeded ? 'SUCCEEDED' : 'INOPERABLE' });
      }
      // People in Cloudcraft.
      const registeredOnce = (id: string) => world.emulator.registrationsOf(roleOf(id)).length === 1;
      const owned = [...model.entries()].filter(([id, m]) => isDesired(m) && !m.hasUserCopy && registeredOnce(id));
      const [touched] = pick(owned) ?? [];
      if (touched && random() < 0.2) {
        const registration = world.emulator.registrationsOf(roleOf(touched))[0];
        if (random() < 0.5) registration.name = 'renamed by hand';
        else world.emulator.accounts.delete(registration.id);
      }
      const now = world.clock.now();
      const postedLately = (id: string) => world.emulator.calls.some(call => call.method === 'POST' && call.body?.roleArn === roleOf(id) && call.at > now - 30 * 60_000);
      const quiet = owned.filter(([id]) => id !== touched && !postedLately(id));
      const [copied, cm] = pick(quiet) ?? [];
      if (copied && cm && random() < 0.2) {
        cm.hasUserCopy = true;
        untouched.push({ ...world.emulator.seedAccount({ name: `${cm.name} (team B)`, roleArn: roleOf(copied), createdAt: new Date(now).toISOString(), updatedAt: new Date(now).toISOString() }) });
      }
      if (random() < 0.15) {
        untouched.push({ ...world.emulator.seedAccount({ name: `stranger ${round}`, roleArn: `arn:aws:iam::9999999999${String(round).padStart(2, '0')}:role/cloudcraft` }) });
      }
      // Cloudcraft's faults, and sometimes its rate limit.
      world.emulator.clearFaults();
      for (const fault of faults) if (random() < 0.2) world.emulator.inject({ ...fault, times: 1 + Math.floor(random() * 3) });
      world.emulator.rateLimit = random() < 0.3 ? { requests: 20, windowMs: 60_000, retryAfter: 'seconds', countRejected: random() < 0.5 } : undefined;

      const deadline = (2 + Math.floor(random() * 13)) * 60_000;
      const trigger = random() < 0.3 ? { 'detail-type': 'CloudFormation StackSet StackInstance Status Change', 'source': 'aws.cloudformation' } : undefined;
      await invoke(trigger, deadline);
      expectUntouched();
      await world.clock.advance(Math.floor(random() * 3 * HOUR));
    }

    world.emulator.clearFaults();
    world.emulator.rateLimit = undefined;
    await invoke();
    await world.clock.advance(25 * HOUR);
    await invoke();
    const last = await invoke();
    expect(last.complete).toBe(true);
    expectUntouched();
    const copies = new Set(untouched.map(a => a.id));
    for (const [id, m] of model) {
      const mine = world.emulator.registrationsOf(roleOf(id)).filter(a => !copies.has(a.id));
      expect({ account: m.name, registrations: mine.map(a => a.name) }).toEqual({ account: m.name, registrations: isDesired(m) ? [m.name] : [] });
    }
    expect(world.emulator.registrationsOf(roleOf(MANAGEMENT))).toHaveLength(1);

    // The stack deleted: everything it owns goes, nothing else.
    const removal = await invoke({
      RequestType: 'Delete',
      ResponseURL: 'https://cloudformation-answers.test/answer/2',
      StackId: 'arn:aws:cloudformation:us-east-1:111111111111:stack/org/1',
      RequestId: 'req-delete',
      LogicalResourceId: 'Reconcile',
      ResourceType: 'Custom::CloudcraftOrganizationRegistrar',
      PhysicalResourceId: 'cloudcraft-registrar:cloudcraft-integration',
      ResourceProperties: { ExternalId: EXTERNAL_ID },
    });
    expect(removal.complete).toBe(true);
    expect([...world.emulator.accounts.keys()].sort()).toEqual(untouched.map(a => a.id).sort());
    expectUntouched();
    // A run still queued behind the Delete changes nothing.
    await world.clock.advance(HOUR);
    await invoke();
    expect([...world.emulator.accounts.keys()].sort()).toEqual(untouched.map(a => a.id).sort());
  });
});
