/**
 * The registrar's plan (pure): from desired accounts, Cloudcraft's list and the ledger, the actions. Every case
 * ends with a check that no action touches a registration the registrar does not own.
 */
import { Action, afterRefusal, DesiredAccount, drift, LedgerEntry, plan, PlanInput, planRemoveAll, registrationBody } from '../lib/organization/registrar/reconcile';
import { CloudcraftAccount } from '../lib/runtime/policy';

const NOW = Date.UTC(2026, 10, 24, 12);
const HOUR = 3_600_000;
const EXT = '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';
const role = (account: string) => `arn:aws:iam::${account}:role/cloudcraft`;
const want = (account: string, name = `acct-${account}`, teams: string[] | null = null): DesiredAccount =>
  ({ accountId: account, roleArn: role(account), name, readAccess: teams, writeAccess: null });
const reg = (id: string, account: string, extra: Partial<CloudcraftAccount> = {}): CloudcraftAccount =>
  ({ id, name: `acct-${account}`, roleArn: role(account), externalId: EXT, readAccess: null, writeAccess: null, createdAt: new Date(NOW - 48 * HOUR).toISOString(), ...extra });
const owned = (account: string, cloudcraftId: string, extra: Partial<LedgerEntry> = {}): LedgerEntry =>
  ({ accountId: account, roleArn: role(account), state: 'registered', cloudcraftId, ...extra });

function run(input: Partial<PlanInput>): Action[] {
  const full: PlanInput = {
    desired: [], keep: new Set(), actual: [], ledger: [], now: NOW, externalId: EXT, graceMs: 24 * HOUR, settleMs: 60_000, ...input,
  };
  const actions = plan(full);
  // Invariant: only registrations the ledger owns, adopts or claims, or made since one of its POSTs, are changed.
  const mine = new Set<string>();
  for (const e of full.ledger) if (e.cloudcraftId) mine.add(e.cloudcraftId);
  for (const a of actions) if (a.kind === 'adopt') mine.add(a.existing.id);
  for (const a of actions) if (a.kind === 'claim') mine.add(a.cloudcraftId);
  for (const e of full.ledger) {
    for (const r of full.actual) {
      if (r.roleArn === e.roleArn && e.postedAt !== undefined && Date.parse(r.createdAt!) >= e.postedAt - 5 * 60_000) mine.add(r.id);
    }
  }
  for (const a of actions) {
    if (a.kind === 'update' || a.kind === 'deregister' || a.kind === 'remove-extra') expect(mine).toContain(a.cloudcraftId);
  }
  return actions;
}
const kinds = (actions: Action[]) => actions.map(a => `${a.kind}:${'accountId' in a ? a.accountId : a.account.accountId}`);

test('a fresh Organization: every desired account is registered', () => {
  expect(kinds(run({ desired: [want('111111111111'), want('222222222222')] }))).toEqual(['register:111111111111', 'register:222222222222']);
});

test('a run with nothing to change plans nothing', () => {
  expect(run({ desired: [want('111111111111')], actual: [reg('a', '111111111111')], ledger: [owned('111111111111', 'a')] })).toEqual([]);
});

test('a name changed by hand in Cloudcraft is set back; unmanaged team access is left alone', () => {
  const actions = run({
    desired: [want('111111111111')],
    actual: [reg('a', '111111111111', { name: 'renamed', readAccess: ['team/x'] })],
    ledger: [owned('111111111111', 'a')],
  });
  expect(actions).toEqual([expect.objectContaining({ kind: 'update', cloudcraftId: 'a', changes: ['name'] })]);
});

test('managed team access that drifted is corrected; [] unshares', () => {
  expect(drift(reg('a', '1', { readAccess: ['team/x'] }), want('1', 'acct-1', []))).toEqual(['readAccess']);
  expect(registrationBody(want('1', 'n', []))).toEqual({ name: 'n', roleArn: role('1'), readAccess: [] });
  expect(registrationBody(want('1', 'n', null))).toEqual({ name: 'n', roleArn: role('1') });
});

test('a registration deleted by hand is registered again', () => {
  expect(kinds(run({ desired: [want('111111111111')], ledger: [owned('111111111111', 'gone')] }))).toEqual(['register:111111111111']);
});

test('an existing registration of the role by the same user is adopted (and corrected), not duplicated', () => {
  const actions = run({ desired: [want('111111111111')], actual: [reg('x', '111111111111', { name: 'by hand' })] });
  expect(kinds(actions)).toEqual(['adopt:111111111111', 'update:111111111111']);
});

test('a registration of the role by another Cloudcraft user is not adopted: the account waits with the reason', () => {
  const actions = run({ desired: [want('111111111111')], actual: [reg('x', '111111111111', { externalId: '99999999-2222-4333-8444-555555555555', name: 'theirs' })] });
  expect(actions).toEqual([expect.objectContaining({ kind: 'wait', conflict: true, why: expect.stringContaining('another Cloudcraft user') })]);
});

test('registrations of other roles, other accounts and other tools are never touched', () => {
  const actions = run({
    desired: [want('111111111111')],
    actual: [reg('other-role', '111111111111', { roleArn: 'arn:aws:iam::111111111111:role/by-hand' }), reg('stranger', '333333333333')],
    ledger: [owned('111111111111', 'a')],
  });
  expect(kinds(actions)).toEqual(['register:111111111111']);
});

describe('a POST that was not confirmed', () => {
  const posting = (postedAt: number) => ({ accountId: '111111111111', roleArn: role('111111111111'), state: 'posting' as const, postedAt });

  test('that shows up is claimed; second registrations it made are removed; older ones of someone else are not', () => {
    const postedAt = NOW - 10 * 60_000;
    const actions = run({
      desired: [want('111111111111')],
      ledger: [posting(postedAt)],
      actual: [
        reg('old', '111111111111', { createdAt: new Date(NOW - 48 * HOUR).toISOString() }),
        reg('mine', '111111111111', { createdAt: new Date(postedAt + 1_000).toISOString() }),
        reg('late', '111111111111', { createdAt: new Date(postedAt + 20_000).toISOString() }),
      ],
    });
    expect(actions).toEqual(expect.arrayContaining([
      expect.objectContaining({ kind: 'claim', cloudcraftId: 'mine' }),
      expect.objectContaining({ kind: 'remove-extra', cloudcraftId: 'late' }),
    ]));
    expect(actions.some(a => 'cloudcraftId' in a && a.cloudcraftId === 'old' && a.kind !== 'claim')).toBe(false);
  });

  test('that has not shown up yet waits for the settle time, then is posted again', () => {
    expect(kinds(run({ desired: [want('111111111111')], ledger: [posting(NOW - 10_000)] }))).toEqual(['wait:111111111111']);
    const again = run({ desired: [want('111111111111')], ledger: [posting(NOW - 120_000)] });
    expect(again).toEqual([expect.objectContaining({ kind: 'register', previous: expect.objectContaining({ postedAt: NOW - 120_000 }) })]);
  });

  test('a late duplicate of an owned registration, made by its own POSTs, is removed on a later run', () => {
    const postedAt = NOW - HOUR;
    const actions = run({
      desired: [want('111111111111')],
      ledger: [owned('111111111111', 'kept', { postedAt })],
      actual: [reg('kept', '111111111111', { createdAt: new Date(postedAt).toISOString() }), reg('late', '111111111111', { createdAt: new Date(postedAt + 30 * 60_000).toISOString() })],
    });
    expect(actions).toEqual([expect.objectContaining({ kind: 'remove-extra', cloudcraftId: 'late' })]);
  });
});

describe('accounts that are no longer desired', () => {
  test('are marked, kept through the grace period, then deregistered and forgotten', () => {
    const actual = [reg('a', '111111111111')];
    expect(kinds(run({ actual, ledger: [owned('111111111111', 'a')] }))).toEqual(['mark-gone:111111111111']);
    expect(kinds(run({ actual, ledger: [owned('111111111111', 'a', { goneSince: NOW - HOUR })] }))).toEqual(['wait:111111111111']);
    expect(run({ actual, ledger: [owned('111111111111', 'a', { goneSince: NOW - 25 * HOUR })] }))
      .toEqual([expect.objectContaining({ kind: 'deregister', cloudcraftId: 'a' })]);
  });

  test('that come back within the grace period are kept', () => {
    expect(kinds(run({ desired: [want('111111111111')], actual: [reg('a', '111111111111')], ledger: [owned('111111111111', 'a', { goneSince: NOW - HOUR })] })))
      .toEqual(['unmark-gone:111111111111']);
  });

  test('whose stack instance is being updated are kept', () => {
    expect(run({ keep: new Set(['111111111111']), actual: [reg('a', '111111111111')], ledger: [owned('111111111111', 'a')] })).toEqual([]);
  });

  test('whose registration is already gone are forgotten without a call', () => {
    expect(kinds(run({ ledger: [owned('111111111111', 'gone', { goneSince: NOW - 25 * HOUR })] }))).toEqual(['forget:111111111111']);
  });
});

test('a refused registration backs off (5 min doubling, at most 6 h); a deployment forces a new try', () => {
  const first = afterRefusal(undefined, want('111111111111'), NOW, '400');
  expect(first.retryAt).toBe(NOW + 5 * 60_000);
  const third = afterRefusal(afterRefusal(first, want('111111111111'), NOW, '400'), want('111111111111'), NOW, '400');
  expect(third.retryAt).toBe(NOW + 20 * 60_000);
  expect(kinds(run({ desired: [want('111111111111')], ledger: [third] }))).toEqual(['wait:111111111111']);
  expect(kinds(run({ desired: [want('111111111111')], ledger: [third], force: true }))).toEqual(['register:111111111111']);
});

test('a changed role name moves the owned registration to the new role with one PUT', () => {
  const actions = run({ desired: [want('111111111111')], actual: [reg('a', '111111111111', { roleArn: 'arn:aws:iam::111111111111:role/old' })], ledger: [{ ...owned('111111111111', 'a'), roleArn: 'arn:aws:iam::111111111111:role/old' }] });
  expect(actions).toEqual([expect.objectContaining({ kind: 'update', cloudcraftId: 'a', changes: ['roleArn'] })]);
});

test('removing everything deregisters what the ledger owns and nothing else', () => {
  const actions = planRemoveAll(
    [owned('111111111111', 'a'), owned('222222222222', 'gone'), { accountId: '333333333333', roleArn: role('333333333333'), state: 'posting', postedAt: NOW - HOUR }],
    [reg('a', '111111111111'), reg('stranger', '444444444444'), reg('p', '333333333333', { createdAt: new Date(NOW - HOUR + 5_000).toISOString() })],
  );
  expect(kinds(actions).sort()).toEqual(['deregister:111111111111', 'deregister:333333333333', 'forget:222222222222']);
});
