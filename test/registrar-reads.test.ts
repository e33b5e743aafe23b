/**
 * One bad read must not act on every account (test/support/registrar-world.ts, virtual time). Cloudcraft's account
 * list answering empty, or leaving accounts out, once; a target OU that no longer exists; an account leaving, or the
 * stack deleted, at the moment of a half list. An absence is confirmed by a request for the ID itself before anything
 * is done about it, and an owned registration is deleted by its ID whatever the list says.
 */
import {
  cfnEvent, expectConverged, HOUR, invoke, MANAGEMENT, member, reconfigure, roleOf, useWorld, world,
} from './support/registrar-world';

useWorld();

/** The next `times` account lists answer 200 with only the registrations `keep` keeps (a partial or stale read). */
function partialLists(keep: (id: string, index: number) => boolean, times = 1): void {
  const accounts = [...world.emulator.accounts.values()].filter((a, i) => keep(a.id, i));
  world.emulator.inject({ method: 'GET', path: '/aws/account', status: 200, body: { accounts }, times });
}

/** Registrations of the role per account, and registrations of no desired account (orphans). */
function census(desired: string[]) {
  const all = [...world.emulator.accounts.values()];
  const duplicates = desired.reduce((n, id) => n + Math.max(0, all.filter(a => a.roleArn === roleOf(id)).length - 1), 0);
  const roles = new Set(desired.map(roleOf));
  return { duplicates, orphans: all.filter(a => !roles.has(a.roleArn)).length };
}

test('one empty answer of the list (200, no accounts) in an 11-account Organization: one PUT finds it wrong, nothing is POSTed, no duplicate or orphan', async () => {
  const accounts = Array.from({ length: 10 }, (_, i) => member(`a${i}`));
  await invoke();
  const posts = world.emulator.callsTo('POST').length;
  world.emulator.inject({ method: 'GET', path: '/aws/account', status: 200, body: { accounts: [] } });
  const summary = await invoke();
  expect(summary).toMatchObject({ stop: 'list-wrong', complete: false });
  expect(summary.error).toMatch(/left out the registration .* which exists/);
  expect(world.emulator.callsTo('POST')).toHaveLength(posts);
  expect(world.emulator.callsTo('PUT')).toHaveLength(1);
  expect(world.emulator.callsTo('DELETE')).toHaveLength(0);
  // Three hourly runs later: every account registered once, nothing orphaned.
  for (let i = 0; i < 3; i++) {
    await world.clock.advance(HOUR);
    await invoke();
  }
  expectConverged([...accounts, MANAGEMENT]);
  expect(census([...accounts, MANAGEMENT])).toEqual({ duplicates: 0, orphans: 0 });
  expect(world.emulator.callsTo('POST')).toHaveLength(posts);
});

test('a list missing half the accounts: the first confirmation finds it wrong; the run stops without a write that rests on it', async () => {
  const accounts = Array.from({ length: 10 }, (_, i) => member(`a${i}`));
  await invoke();
  partialLists((_, i) => i % 2 === 0);
  const summary = await invoke();
  expect(summary.stop).toBe('list-wrong');
  expect(world.emulator.callsTo('POST')).toHaveLength(11);
  // The run reports what it knows: the accounts the list left out are not counted as registered (the alarm's figure).
  expect(summary.registered).toBeLessThan(11);
  await world.clock.advance(HOUR);
  expect(await invoke()).toMatchObject({ registered: 11, complete: true });
  expect(census([...accounts, MANAGEMENT])).toEqual({ duplicates: 0, orphans: 0 });
});

test('registrations really deleted by hand (many at once): each confirmed gone by its ID (404), then registered again', async () => {
  const accounts = Array.from({ length: 6 }, (_, i) => member(`a${i}`));
  await invoke();
  for (const id of accounts) world.emulator.accounts.delete(world.emulator.registrationsOf(roleOf(id))[0].id);
  const puts = world.emulator.callsTo('PUT').length;
  const summary = await invoke();
  expect(summary).toMatchObject({ registered: 7, complete: true });
  expect(world.emulator.callsTo('PUT').slice(puts).map(c => c.status)).toEqual(Array(6).fill(404));
  expectConverged([...accounts, MANAGEMENT]);
});

test('an account that leaves while the list leaves its registration out: deregistered by its ID all the same', async () => {
  const leaving = member('leaving');
  const staying = member('staying');
  await invoke();
  const id = world.emulator.registrationsOf(roleOf(leaving))[0].id;
  world.orgs.setState(leaving, 'CLOSED');
  await invoke();
  await world.clock.advance(25 * HOUR);
  partialLists(other => other !== id);
  const summary = await invoke();
  expect(summary.removed).toBe(1);
  expect(world.emulator.callsTo('DELETE').map(c => c.path)).toEqual([`/aws/account/${id}`]);
  expectConverged([staying, MANAGEMENT]);
});

test('the stack\'s Delete that reads half the list removes every owned registration (DELETE by ID; a 404 is done)', async () => {
  Array.from({ length: 10 }, (_, i) => member(`a${i}`));
  const stranger = world.emulator.seedAccount({ name: 'stranger', roleArn: 'arn:aws:iam::999999999999:role/cloudcraft' });
  await invoke();
  // One already gone (by hand): its DELETE answers 404, which is done.
  const [gone] = world.emulator.registrationsOf(roleOf(MANAGEMENT));
  world.emulator.accounts.delete(gone.id);
  partialLists((_, i) => i % 2 === 0, 10);
  const summary = await invoke(cfnEvent('Delete'));
  expect(summary).toMatchObject({ complete: true, removed: 11 });
  expect([...world.emulator.accounts.keys()]).toEqual([stranger.id]);
  expect(world.answers.at(-1).body).toMatchObject({ Status: 'SUCCESS', Reason: 'Removed 11 registrations from Cloudcraft.' });
});

test('with a grace period shorter than a run, one empty read of the StackSet\'s instances still deregisters nothing in that run', async () => {
  await reconfigure({ graceMs: 30_000 });
  const accounts = Array.from({ length: 10 }, (_, i) => member(`a${i}`));
  await invoke();
  // This account's registration removed by hand and its POST again without an answer: the run settles, and its later
  // rounds plan again from the same read of AWS.
  world.emulator.accounts.delete(world.emulator.registrationsOf(roleOf(MANAGEMENT))[0].id);
  world.emulator.inject({ method: 'POST', hangMs: Infinity });
  const instances = world.cfn.list();
  for (const i of instances) world.cfn.removeInstance(i.account, i.region);
  const summary = await invoke();
  expect(summary.removed).toBe(0);
  expect(world.emulator.callsTo('DELETE')).toHaveLength(0);
  // The next read finds them again: nothing was lost.
  for (const i of instances) world.cfn.setInstance(i);
  await world.clock.advance(60_000);
  await invoke();
  expectConverged([...accounts, MANAGEMENT]);
});

test('a failed read of the StackSet\'s instances changes nothing: no account is deregistered, the error says why', async () => {
  const accounts = [member('a'), member('b')];
  await invoke();
  world.aws.failNext('ListStackInstances', 'StackSetNotFoundException', 10);
  await world.clock.advance(30 * HOUR);
  const summary = await invoke();
  expect(summary.error).toMatch(/StackSetNotFoundException/);
  expect(world.emulator.callsTo('DELETE')).toHaveLength(0);
  expectConverged([...accounts, MANAGEMENT]);
});

test('this account\'s name cannot be read (DescribeAccount fails): its registration is left as it is, not renamed to its ID', async () => {
  await invoke();
  const [before] = world.emulator.registrationsOf(roleOf(MANAGEMENT));
  world.aws.failNext('DescribeAccount', 'TooManyRequestsException', 10);
  const summary = await invoke();
  expect(summary.error).toMatch(/DescribeAccount of this account .* failed/);
  expect(world.emulator.registrationsOf(roleOf(MANAGEMENT))).toEqual([before]);
  expect(world.emulator.callsTo('PUT')).toHaveLength(0);
});
