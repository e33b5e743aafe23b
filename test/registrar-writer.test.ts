/**
 * One writer without reserved concurrency, and bounded work (test/support/registrar-world.ts, virtual time).
 * Invocations run at once as Lambda runs them when nothing is reserved: the lease in the ledger lets one talk to
 * Cloudcraft; CloudFormation's Create and Update are answered within seconds while a run is in progress; the stack's
 * Delete starts at once and the run in progress stops at its next request; an outage, a Retry-After of a day, and
 * continuations are bounded.
 */
import {
  API_KEY, cfnEvent, expectConverged, EXTERNAL_ID, HOUR, instanceEvent, invoke, launch, MANAGEMENT, member, OTHER_EXTERNAL_ID, reconfigure, roleOf,
  useWorld, world,
} from './support/registrar-world';
import { MAX_CONTINUATIONS } from '../lib/organization/registrar';
import { ACCOUNTS_NOT_REGISTERED_QUERY } from '../lib/organization/registrar/contract';
import { Ledger } from '../lib/organization/registrar/ledger';

useWorld();

const logLines = () => world.logs.map(l => JSON.parse(l));
const entries = async () => [...(await new Ledger(world.aws.io(), world.config.ledgerTable).read()).entries.values()];

test('an Update while a run is in progress is answered within seconds; the run asked for goes after it, with the new settings', async () => {
  world.emulator.rateLimit = { requests: 20, windowMs: 60_000, retryAfter: 'seconds' };
  const accounts = Array.from({ length: 60 }, (_, i) => member(`a${i}`));
  const renamed = accounts[0];
  let sentAt = 0;
  const [run, update] = await world.clock.run(Promise.all([
    launch(),
    (async () => {
      await world.clock.sleep(30_000);
      sentAt = world.clock.now();
      world.config = { ...world.config, naming: { pattern: '{name}', names: { [renamed]: 'renamed by the deployment' } } };
      return launch(cfnEvent('Update'));
    })(),
  ]));
  const answer = world.answers.find(a => a.body.RequestId === 'req-Update');
  expect(answer.body).toMatchObject({ Status: 'SUCCESS' });
  expect(answer.at - sentAt).toBeLessThan(10_000);
  expect(update.skipped).toMatch(/another invocation holds the lease/);
  // The run in progress finished its work, and asked for one more run (the new settings) when it let go.
  expect(run.skipped).toBeUndefined();
  expect(world.aws.invocations).toEqual([{ functionName: 'registrar', payload: { cdkCloudcraft: 'continue', depth: 1, force: true } }]);
  await invoke(world.aws.invocations[0].payload);
  expectConverged([...accounts, MANAGEMENT]);
  expect(world.emulator.registrationsOf(roleOf(renamed))[0].name).toBe('renamed by the deployment');
});

test('two runs at once (a schedule and a stack-instance event): one talks to Cloudcraft, the other ends at once and is run after', async () => {
  const accounts = Array.from({ length: 5 }, (_, i) => member(`a${i}`));
  const [first, second] = await world.clock.run(Promise.all([launch(), launch()]));
  const ran = [first, second].filter(s => !s.skipped);
  expect(ran).toHaveLength(1);
  expect([first, second].filter(s => s.skipped)).toEqual([expect.objectContaining({ calls: 0, skipped: expect.stringMatching(/holds the lease/) })]);
  expect(world.aws.invocations).toEqual([{ functionName: 'registrar', payload: { cdkCloudcraft: 'continue', depth: 1, force: false } }]);
  expect(world.emulator.callsTo('POST')).toHaveLength(6);
  expectConverged([...accounts, MANAGEMENT]);
});

test('the stack\'s Delete while a run registers: the run stops at its next request, the Delete removes everything, nothing is orphaned', async () => {
  world.emulator.rateLimit = { requests: 20, windowMs: 60_000, retryAfter: 'seconds' };
  Array.from({ length: 60 }, (_, i) => member(`a${i}`));
  let sentAt = 0;
  const [run] = await world.clock.run(Promise.all([
    launch(),
    (async () => {
      await world.clock.sleep(45_000);
      sentAt = world.clock.now();
      return launch(cfnEvent('Delete'));
    })(),
  ]));
  expect(run).toMatchObject({ stop: 'deleted' });
  const answer = world.answers.find(a => a.body.RequestId === 'req-Delete');
  expect(answer.body).toMatchObject({ Status: 'SUCCESS', Reason: expect.stringMatching(/^Removed \d+ registrations from Cloudcraft\.$/) });
  expect(world.emulator.accounts.size).toBe(0);
  // It started at once: its first request to Cloudcraft went out within the lease's lifetime (2 minutes), not after
  // the run's 15 minutes.
  const firstDelete = world.emulator.callsTo('DELETE')[0];
  expect(firstDelete.at - sentAt).toBeLessThan(3 * 60_000);
  // Nothing registers afterwards.
  await world.clock.advance(HOUR);
  await invoke();
  expect(world.emulator.accounts.size).toBe(0);
});

test('a holder that died (its lease not let go) delays the next run by the lease\'s lifetime at most', async () => {
  member('a');
  const ledger = new Ledger(world.aws.io(), world.config.ledgerTable);
  await world.clock.run(ledger.updateLease(record => ({ next: { ...record, owner: 'crashed', expiresAt: world.clock.now() + 2 * 60_000 }, result: undefined })));
  expect((await invoke()).skipped).toMatch(/holds the lease/);
  await world.clock.advance(2 * 60_000 + 1);
  expect(await invoke()).toMatchObject({ registered: 2, complete: true });
});

test('a CloudFormation event of another stack is refused: answered FAILED, nothing done', async () => {
  member('a');
  await invoke();
  const before = world.emulator.calls.length;
  const forged = { ...cfnEvent('Delete'), StackId: 'arn:aws:cloudformation:us-east-1:111111111111:stack/other/2' };
  const summary = await invoke(forged);
  expect(summary.error).toMatch(/belongs to the stack .*org\/1, not to .*other\/2/);
  expect(world.answers.at(-1).body).toMatchObject({ Status: 'FAILED' });
  expect(world.emulator.calls).toHaveLength(before);
  expect(world.emulator.accounts.size).toBe(2);
  expect(logLines().some(l => l.level === 'error' && l.msg === 'event of another stack refused')).toBe(true);
});

test('reads of AWS longer than the lease (120 OUs, a slow Organizations): the run keeps its lease and registers everything', async () => {
  const ous = Array.from({ length: 120 }, (_, i) => world.orgs.addOu(world.ou, `team-${i}`));
  const accounts = ous.map((ou, i) => member(`a${i}`, { ou }));
  world.aws.latency.ListAccountsForParent = 600;
  world.aws.latency.ListOrganizationalUnitsForParent = 600;
  const started = world.clock.now();
  const summary = await invoke();
  expect(world.emulator.calls[0].at - started).toBeGreaterThan(2 * 60_000);
  expect(summary).toMatchObject({ complete: true, registered: 121 });
  expectConverged([...accounts, MANAGEMENT]);
});

test('a hundred invocations at once (a StackSet operation\'s events): none fails, one runs, and one more run is asked for', async () => {
  const accounts = Array.from({ length: 5 }, (_, i) => member(`a${i}`));
  world.aws.latency.GetItem = 10;
  world.aws.latency.PutItem = 10;
  const summaries = await world.clock.run(Promise.all(Array.from({ length: 100 }, () => launch(instanceEvent()))));
  expect(summaries.filter(s => s.error)).toEqual([]);
  expect(summaries.filter(s => !s.skipped)).toHaveLength(1);
  expect(world.aws.invocations).toHaveLength(1);
  expect(logLines().filter(l => l.level === 'error')).toEqual([]);
  expectConverged([...accounts, MANAGEMENT]);
});

test('a deployment request delivered again after a newer one (Lambda\'s retry, after a rollback) does not bring its settings back', async () => {
  const account = member('a');
  const amzDate = (at: number) => new Date(at).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  const at = (event: any, time: number) => ({ ...event, ResponseURL: `https://cloudformation-answers.test/answer?X-Amz-Date=${amzDate(time)}&X-Amz-Expires=7200` });
  world.config = { ...world.config, naming: { pattern: 'U1-{name}', names: {} } };
  const update1 = at({ ...cfnEvent('Update'), RequestId: 'update-1' }, world.clock.now());
  await invoke(update1);
  await world.clock.advance(60_000);
  world.config = { ...world.config, naming: { pattern: '{name}', names: {} } };
  await invoke(at({ ...cfnEvent('Update'), RequestId: 'rollback' }, world.clock.now()));
  await world.clock.advance(60_000);
  expect(await invoke(update1)).toMatchObject({ skipped: 'request already recorded' });
  expect(world.answers.at(-1).body).toMatchObject({ Status: 'SUCCESS', RequestId: 'update-1' });
  await invoke();
  expect(world.emulator.registrationsOf(roleOf(account))[0].name).toBe('a');
});

test('a DELETE refused for one registration (403): the others are deregistered, the refused one is reported and tried again', async () => {
  await reconfigure({ graceMs: 0 });
  const accounts = Array.from({ length: 4 }, (_, i) => member(`a${i}`));
  await invoke();
  const refused = world.emulator.registrationsOf(roleOf(accounts[1]))[0].id;
  world.emulator.inject({ method: 'DELETE', path: `/aws/account/${refused}`, status: 403, body: { error: 'Insufficient privileges', reason: 'insufficient_privileges', code: 403 } });
  for (const id of accounts) world.orgs.setState(id, 'SUSPENDED');
  await invoke();
  await world.clock.advance(60_000);
  const summary = await invoke();
  expect(summary.stop).toBeUndefined();
  expect(world.emulator.accounts.size).toBe(2);
  expect(logLines().find(l => l.msg === 'deregistration refused')).toMatchObject({ level: 'warn', cloudcraftId: refused });
  await world.clock.advance(60_000);
  await invoke();
  expectConverged([MANAGEMENT]);
});

test('the ledger\'s pacing record failing after Cloudcraft answered: the registrations are kept, and a Delete removes every one', async () => {
  const accounts = [member('a'), member('b')];
  world.aws.failNext('GetItem', 'ProvisionedThroughputExceededException', 1_000, input => input.pk === 'meta#pacer');
  const summary = await invoke();
  expect(summary).toMatchObject({ complete: true, registered: 3 });
  expect(logLines().some(l => l.msg === 'the key\'s pacing record could not be read or written')).toBe(true);
  expectConverged([...accounts, MANAGEMENT]);
  await invoke(cfnEvent('Delete'));
  expect(world.emulator.accounts.size).toBe(0);
});

describe('bounded work', () => {
  test('Cloudcraft down: a run makes a few calls, stops within minutes, and does not continue itself (no progress)', async () => {
    member('a');
    world.emulator.inject({ status: 503, text: 'unavailable', times: 100_000 });
    const started = world.clock.now();
    const summary = await invoke();
    expect(summary).toMatchObject({ stop: 'unavailable', complete: false, progress: 0 });
    expect(world.emulator.calls.length).toBeLessThanOrEqual(4);
    expect(world.clock.now() - started).toBeLessThan(2 * 60_000);
    expect(world.aws.invocations).toEqual([]);
    expect(logLines().some(l => l.msg?.startsWith('not continued: this run made no progress'))).toBe(true);
  });

  test(`continuations stop at ${MAX_CONTINUATIONS}: an unfinished run that made progress continues below it, not at it`, async () => {
    world.emulator.rateLimit = { requests: 20, windowMs: 60_000, retryAfter: 'seconds' };
    Array.from({ length: 100 }, (_, i) => member(`a${i}`));
    const below = await invoke({ cdkCloudcraft: 'continue', depth: MAX_CONTINUATIONS - 1 }, 90_000);
    expect(below.progress).toBeGreaterThan(0);
    expect(world.aws.invocations.map(i => i.payload)).toEqual([{ cdkCloudcraft: 'continue', depth: MAX_CONTINUATIONS, force: false }]);
    const at = await invoke(world.aws.invocations[0].payload, 90_000);
    expect(at).toMatchObject({ complete: false });
    expect(at.progress).toBeGreaterThan(0);
    expect(world.aws.invocations).toHaveLength(1);
    expect(logLines().some(l => l.level === 'warn' && l.msg?.startsWith('not continued: the limit of continuations'))).toBe(true);
  });

  test('a 429 with Retry-After of a day is honoured for 60 s: the run registers within minutes, and says what it was told', async () => {
    const account = member('a');
    world.emulator.inject({ method: 'POST', status: 429, headers: { 'Retry-After': '86400' }, body: { error: 'Too Many Requests', reason: 'too_many_requests', code: 429 } });
    const started = world.clock.now();
    const summary = await invoke();
    expect(summary).toMatchObject({ complete: true, registered: 2 });
    expect(world.clock.now() - started).toBeLessThan(3 * 60_000);
    expectConverged([account, MANAGEMENT]);
  });

  test('the Delete meets 429s with Retry-After of a day: it answers in CloudFormation\'s window, saying what was not removed and why', async () => {
    Array.from({ length: 3 }, (_, i) => member(`a${i}`));
    await invoke();
    world.emulator.inject({ method: 'DELETE', status: 429, headers: { 'Retry-After': '86400' }, body: { error: 'Too Many Requests', reason: 'too_many_requests', code: 429 }, times: 100_000 });
    const requested = world.clock.now();
    let summary = await invoke(cfnEvent('Delete'));
    for (let i = 0; i < 8 && world.answers.length === 0; i++) summary = await invoke(world.aws.invocations.at(-1)!.payload);
    const answer = world.answers.at(-1);
    expect(answer.body).toMatchObject({
      Status: 'SUCCESS',
      Reason: expect.stringMatching(/^Removed 0 registrations; 4 remain in Cloudcraft, listed in the ledger table ledger\. .*Cloudcraft kept rate-limiting the API key \(429.*Retry-After 86400: honoured up to 60 s\)/),
    });
    expect(['rate-limited', 'deadline']).toContain(summary.stop);
    // Within the hour CloudFormation waits, less the 5 minutes kept for the answer.
    expect(answer.at - requested).toBeLessThanOrEqual(55 * 60_000);
    expect(answer.at - requested).toBeGreaterThan(30 * 60_000);
  });

  test('a run stopped at its deadline before a POST is sent leaves no "unconfirmed POST" behind (write-ahead at the send)', async () => {
    world.emulator.rateLimit = { requests: 20, windowMs: 60_000, retryAfter: 'seconds' };
    Array.from({ length: 40 }, (_, i) => member(`a${i}`));
    const summary = await invoke(undefined, 60_000);
    expect(summary).toMatchObject({ stop: 'deadline' });
    const states = (await world.clock.run(entries())).map(e => e.state);
    expect(states.filter(s => s === 'posting')).toEqual([]);
    expect(states.filter(s => s === 'registered').length).toBe(world.emulator.accounts.size);
  });
});

describe('the key\'s Cloudcraft user', () => {
  const NEW_KEY = 'TmV3S2V5T2ZBbm90aGVyQ2xvdWRjcmFmdFVzZXIwMDA=';

  test('another user\'s key put in the secret, not deployed again: every account reported failed with the reason, nothing changed', async () => {
    const accounts = [member('a'), member('b')];
    await invoke();
    const before = [...world.emulator.accounts.values()].map(a => ({ ...a }));
    world.emulator.users.push({ key: NEW_KEY, id: 'other', externalId: OTHER_EXTERNAL_ID });
    const summary = await invoke(undefined, undefined, world, { readSecret: async () => NEW_KEY });
    expect(summary).toMatchObject({ stop: 'key-user-changed', failed: 3, complete: false });
    expect(summary.error).toMatch(new RegExp(`belongs to another Cloudcraft user \\(external ID ${OTHER_EXTERNAL_ID}\\) than the one the member roles trust \\(${EXTERNAL_ID}\\).*deploy the stack with externalId: '${OTHER_EXTERNAL_ID}'`));
    expect([...world.emulator.accounts.values()]).toEqual(before);
    expect(world.aws.invocations).toEqual([]);
    expectConverged([...accounts, MANAGEMENT]);
  });

  test('deployed again with the new user\'s external ID (the externalId prop): the registrations move to the new user (old ones removed), once', async () => {
    const accounts = [member('a'), member('b')];
    await invoke();
    const old = new Set(world.emulator.accounts.keys());
    world.emulator.users.push({ key: NEW_KEY, id: 'other', externalId: OTHER_EXTERNAL_ID });
    // Deployed with externalId: the new user's (as the reason says); the member roles (and this account's) trust it.
    for (const id of [...accounts, MANAGEMENT]) world.emulator.addRole(roleOf(id), { externalId: OTHER_EXTERNAL_ID });
    world.config = { ...world.config, externalId: OTHER_EXTERNAL_ID };
    await invoke(cfnEvent('Update'), undefined, world, { readSecret: async () => NEW_KEY });
    const now = [...world.emulator.accounts.values()];
    expect(now.map(a => a.externalId)).toEqual(Array(3).fill(OTHER_EXTERNAL_ID));
    expect(now.filter(a => old.has(a.id))).toEqual([]);
    expectConverged([...accounts, MANAGEMENT]);
    const posts = world.emulator.callsTo('POST').length;
    await invoke(undefined, undefined, world, { readSecret: async () => NEW_KEY });
    expect(world.emulator.callsTo('POST')).toHaveLength(posts);
    expect(API_KEY).not.toBe(NEW_KEY);
  });
});

/**
 * What the dashboard's Logs Insights query (contract.ts) makes of the registrar's log lines: for each account, its
 * latest line, kept when it was not at info level. Written from the query's words, to hold the log lines to them.
 */
function accountsNotRegistered(lines: any[]): Array<{ accountId: string; problem: string; reason: string }> {
  const latest = new Map<string, any>();
  for (const line of lines) if (line.accountId) latest.set(line.accountId, line);
  return [...latest.values()].filter(l => l.level !== 'info').map(l => ({ accountId: l.accountId, problem: l.msg, reason: l.reason ?? l.why }));
}

test('the dashboard\'s table of accounts not registered, from the log lines: refused, another user\'s, a failed instance, backed off; not the registered', async () => {
  expect(ACCOUNTS_NOT_REGISTERED_QUERY).toMatch(/stats latest\(level\) as lastLevel, latest\(msg\) as problem, latest\(cause\) as reason.* by accountId\n\| filter lastLevel != "info"/s);
  const ok = member('ok');
  const refused = member('refused');
  world.emulator.addRole(roleOf(refused), { externalId: OTHER_EXTERNAL_ID });
  const theirs = member('theirs');
  world.emulator.seedAccount({ name: 'another user', roleArn: roleOf(theirs), externalId: OTHER_EXTERNAL_ID });
  const failed = member('failed', { instance: 'FAILED' });
  await invoke();
  await world.clock.advance(60_000);
  await invoke(); // the refused one is backed off: still in the table
  const table = accountsNotRegistered(logLines());
  expect(table.map(r => r.accountId).sort()).toEqual([refused, theirs, failed].sort());
  expect(table.find(r => r.accountId === refused)!.reason).toMatch(/refused before \(Cloudcraft could not verify the role/);
  expect(table.find(r => r.accountId === theirs)!.reason).toMatch(/made by another Cloudcraft user/);
  expect(table.find(r => r.accountId === failed)).toMatchObject({ problem: 'stack instance failed: its role may not exist' });
  expect(table.map(r => r.accountId)).not.toContain(ok);
});

test('a stack instance that FAILED: counted in a metric and logged with StackSets\' reason', async () => {
  const ok = member('ok');
  const failed = member('failed', { instance: 'FAILED' });
  world.cfn.setInstance({ account: failed, region: 'us-east-1', status: 'OUTDATED', detailedStatus: 'FAILED', statusReason: 'ResourceLogicalId:Role, ResourceType:AWS::IAM::Role, ResourceStatusReason:Role cloudcraft already exists.' });
  const summary = await invoke();
  expect(summary.failedInstances).toBe(1);
  const emf = logLines().filter(l => l._aws).at(-1);
  expect(emf).toMatchObject({ StackInstancesFailed: 1 });
  expect(logLines().find(l => l.msg === 'stack instance failed: its role may not exist')).toMatchObject({ level: 'warn', accountId: failed, reason: expect.stringMatching(/Role cloudcraft already exists/) });
  expectConverged([ok, MANAGEMENT]);
});
