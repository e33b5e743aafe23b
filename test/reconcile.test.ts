/**
 * The registrar's plan (pure): from desired accounts, Cloudcraft's list and the ledger, the actions. Every case
 * ends with a check that no action touches a registration the registrar does not own.
 */
import { Action, afterRefusal, DesiredAccount, LedgerEntry, plan, PlanInput, planRemoveAll } from '../lib/organization/registrar/reconcile';
import { CloudcraftAccount } from '../lib/runtime/policy';
import { drift, registrationBody } from '../lib/runtime/registration';

const NOW = Date.UTC(2026, 10, 24, 12);
const HOUR = 3_600_000;
const EXT = '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';
const role = (account: string) => `arn:aws:iam::${account}:role/cloudcraft`;
const want = (account: string, name = `acct-${account}`, teams?: string[]): DesiredAccount =>
  ({ accountId: account, roleArn: role(account), name, ...(teams ? { readAccess: teams } : {}) });
const reg = (id: string, account: string, extra: Partial<CloudcraftAccount> = {}): CloudcraftAccount =>
  ({ id, name: `acct-${account}`, roleArn: role(account), externalId: EXT, readAccess: null, writeAccess: null, createdAt: new Date(NOW - 48 * HOUR).toISOString(), ...extra });
const owned = (account: string, cloudcraftId: string, extra: Partial<LedgerEntry> = {}): LedgerEntry =>
  ({ accountId: account, roleArn: role(account), state: 'registered', cloudcraftId, ...extra });

function run(input: Partial<PlanInput>): Action[] {
  const full: PlanInput = {
    desired: [], keep: new Set(), actual: [], ledger: [], now: NOW, externalId: EXT, graceMs: 24 * HOUR, settleMs: 60_000, ...input,
  };
  const actions = plan(full);
  // Invariant: only registrations the ledger owns, adopts or claims, or made by its POSTs (by the key's user, from the
  // first POST to 20 minutes after the last: Lambda's 15 minutes plus 5 of clock skew), are changed; never another
  // user's. Written here from the rule, not from the code's helpers.
  const mine = new Set<string>();
  for (const e of full.ledger) if (e.cloudcraftId) mine.add(e.cloudcraftId);
  for (const a of actions) if (a.kind === 'adopt') mine.add(a.existing.id);
  for (const a of actions) if (a.kind === 'claim') mine.add(a.cloudcraftId);
  for (const e of full.ledger) {
    if (e.postedAt === undefined) continue;
    const last = Math.max(e.postedAt, e.lastPostAt ?? 0);
    for (const r of full.actual) {
      const t = Date.parse(r.createdAt!);
      if (r.roleArn === e.roleArn && t >= e.postedAt - 5 * 60_000 && t <= last + 20 * 60_000) mine.add(r.id);
    }
  }
  // Another user's: made with another external ID, and not by the registrar itself under its key's earlier user (the
  // ledger recorded that external ID when it registered it).
  const ownUnderEarlierUser = new Set(full.ledger.filter(e => e.cloudcraftId && e.externalId).map(e => `${e.cloudcraftId}/${e.externalId}`));
  const foreign = new Set(full.actual.filter(r => r.externalId && full.externalId && r.externalId !== full.externalId && !ownUnderEarlierUser.has(`${r.id}/${r.externalId}`)).map(r => r.id));
  for (const a of actions) {
    const target = a.kind === 'update' || a.kind === 'deregister' || a.kind === 'remove-extra' || a.kind === 'claim' || a.kind === 'confirm' || a.kind === 'retire' ? a.cloudcraftId
      : a.kind === 'adopt' ? a.existing.id : undefined;
    if (target === undefined) continue;
    expect(foreign).not.toContain(target);
    if (a.kind !== 'claim') expect(mine).toContain(target);
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
  expect(registrationBody(want('1', 'n'))).toEqual({ name: 'n', roleArn: role('1') });
});

test('team access not managed: a PUT sends the registration\'s own lists back (kept under both readings of PUT)', () => {
  const shared = reg('a', '1', { readAccess: ['team/x'], writeAccess: [] });
  expect(registrationBody(want('1', 'renamed'), { current: shared })).toEqual({ name: 'renamed', roleArn: role('1'), readAccess: ['team/x'], writeAccess: [] });
  // Not shared (null): nothing to send back. Managed: the desired lists win.
  expect(registrationBody(want('1', 'renamed'), { current: reg('a', '1') })).toEqual({ name: 'renamed', roleArn: role('1') });
  // Read access managed (the desired list wins), write access not (its own list is sent back).
  expect(registrationBody(want('1', 'renamed', ['team/y']), { current: shared })).toEqual({ name: 'renamed', roleArn: role('1'), readAccess: ['team/y'], writeAccess: [] });
});

test('a registration pointed at another role is drift', () => {
  expect(drift(reg('a', '1', { roleArn: role('2') }), want('1'))).toEqual(['roleArn']);
});

test('an owned registration the list leaves out is asked for by its ID first; registered again only once confirmed gone', () => {
  const input = { desired: [want('111111111111'), want('222222222222')], actual: [reg('b', '222222222222')], ledger: [owned('111111111111', 'gone'), owned('222222222222', 'b')] };
  expect(run(input)).toEqual([expect.objectContaining({ kind: 'confirm', cloudcraftId: 'gone' })]);
  expect(kinds(run({ ...input, confirmedGone: new Set(['gone']) }))).toEqual(['register:111111111111']);
});

test('an empty list with every account owned: one confirmation each, no POST and no removal planned on the absence', () => {
  const accounts = Array.from({ length: 11 }, (_, i) => String(100000000000 + i));
  const actions = run({ desired: accounts.map(a => want(a)), ledger: accounts.map(a => owned(a, `id-${a}`)) });
  expect(new Set(actions.map(a => a.kind))).toEqual(new Set(['confirm']));
  expect(actions).toHaveLength(11);
});

test('registered under another user\'s external ID (the key\'s user changed, the roles trust the new one): retired and registered anew', () => {
  const other = '99999999-2222-4333-8444-555555555555';
  const actions = run({ desired: [want('111111111111')], actual: [reg('a', '111111111111', { externalId: other })], ledger: [owned('111111111111', 'a', { externalId: other })] });
  expect(kinds(actions)).toEqual(['retire:111111111111', 'register:111111111111']);
  // Recorded under the key's user: nothing to do, whatever the list shows of it.
  expect(run({ desired: [want('111111111111')], actual: [reg('a', '111111111111')], ledger: [owned('111111111111', 'a', { externalId: EXT })] })).toEqual([]);
});

test('an existing registration of the role by the same user is adopted (and corrected), not duplicated', () => {
  const actions = run({ desired: [want('111111111111')], actual: [reg('x', '111111111111', { name: 'by hand' })] });
  expect(kinds(actions)).toEqual(['adopt:111111111111', 'update:111111111111']);
});

test('a registration of the role by another Cloudcraft user is not adopted: the account waits with the reason', () => {
  const actions = run({ desired: [want('111111111111')], actual: [reg('x', '111111111111', { externalId: '99999999-2222-4333-8444-555555555555', name: 'theirs' })] });
  expect(actions).toEqual([expect.objectContaining({ kind: 'wait', failed: true, why: expect.stringContaining('another Cloudcraft user') })]);
});

test('registrations of other roles, other accounts and other tools are never touched', () => {
  const actions = run({
    desired: [want('111111111111')],
    actual: [reg('other-role', '111111111111', { roleArn: 'arn:aws:iam::111111111111:role/by-hand' }), reg('stranger', '333333333333')],
    ledger: [owned('111111111111', 'a')],
    confirmedGone: new Set(['a']),
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
    const postedAt = NOW - 3 * HOUR;
    const lastPostAt = postedAt + HOUR; // posted again an hour later (Cloudcraft was failing)
    const actions = run({
      desired: [want('111111111111')],
      ledger: [owned('111111111111', 'kept', { postedAt, lastPostAt })],
      actual: [
        reg('kept', '111111111111', { createdAt: new Date(postedAt).toISOString() }),
        reg('late', '111111111111', { createdAt: new Date(lastPostAt + 10 * 60_000).toISOString() }),
      ],
    });
    expect(actions).toEqual([expect.objectContaining({ kind: 'remove-extra', cloudcraftId: 'late' })]);
  });

  test('a second registration of an owned role added by hand later is the user\'s: never removed, not even when the account goes', () => {
    const postedAt = NOW - 48 * HOUR;
    const ledger = [owned('111111111111', 'kept', { postedAt, lastPostAt: postedAt })];
    const actual = [
      reg('kept', '111111111111', { createdAt: new Date(postedAt).toISOString() }),
      reg('by-hand', '111111111111', { name: 'prod (team B)', createdAt: new Date(postedAt + 21 * 60_000).toISOString() }),
    ];
    expect(run({ desired: [want('111111111111')], ledger, actual })).toEqual([]);
    const gone = [{ ...ledger[0], goneSince: NOW - 25 * HOUR }];
    expect(run({ ledger: gone, actual })).toEqual([expect.objectContaining({ kind: 'deregister', cloudcraftId: 'kept' })]);
    expect(planRemoveAll(gone, actual, EXT)).toEqual([expect.objectContaining({ kind: 'deregister', cloudcraftId: 'kept' })]);
  });

  test('another Cloudcraft user\'s registration of the role is never claimed, even while a POST is unconfirmed', () => {
    const theirs = reg('theirs', '111111111111', { externalId: '99999999-2222-4333-8444-555555555555' });
    expect(kinds(run({ desired: [want('111111111111')], ledger: [posting(NOW - 10_000)], actual: [theirs] }))).toEqual(['wait:111111111111']);
    const later = run({ desired: [want('111111111111')], ledger: [posting(NOW - 120_000)], actual: [theirs] });
    expect(later).toEqual([expect.objectContaining({ kind: 'wait', failed: true })]);
    // Made within the POST's window but with another external ID: not the registrar's either.
    const inWindow = reg('theirs-late', '111111111111', { externalId: '99999999-2222-4333-8444-555555555555', createdAt: new Date(NOW - 5_000).toISOString() });
    expect(planRemoveAll([posting(NOW - 120_000)], [inWindow], EXT)).toEqual([expect.objectContaining({ kind: 'forget' })]);
  });

  test('removing everything keeps a POST that may still complete (20 min from the last POST), then forgets it', () => {
    const entry = { ...posting(NOW - HOUR), lastPostAt: NOW - 19 * 60_000 };
    expect(kinds(planRemoveAll([entry], [], EXT, NOW))).toEqual(['wait:111111111111']);
    expect(kinds(planRemoveAll([entry], [], EXT, NOW + 2 * 60_000))).toEqual(['forget:111111111111']);
    // Another user's registration in the window does not make it the registrar's.
    const theirs = reg('theirs', '111111111111', { externalId: '99999999-2222-4333-8444-555555555555', createdAt: new Date(NOW - 60_000).toISOString() });
    expect(kinds(planRemoveAll([entry], [theirs], EXT, NOW))).toEqual(['wait:111111111111']);
  });

  test('a refusal after an unconfirmed POST keeps that POST\'s window (recent only); no longer desired, its late registration is removed', () => {
    const unconfirmed = { ...posting(NOW - 120_000), lastPostAt: NOW - 60_000 };
    const refused = afterRefusal(unconfirmed, want('111111111111'), NOW, '400');
    expect(refused).toMatchObject({ state: 'failed', postedAt: NOW - 120_000, lastPostAt: NOW - 60_000 });
    expect(afterRefusal(undefined, want('111111111111'), NOW, '400').postedAt).toBeUndefined();
    expect(afterRefusal({ ...unconfirmed, postedAt: NOW - 2 * HOUR, lastPostAt: NOW - HOUR }, want('111111111111'), NOW, '400').postedAt).toBeUndefined();
    // The late registration appears; the account is no longer desired, or the stack is deleted: it is the entry's.
    const late = reg('late', '111111111111', { createdAt: new Date(NOW - 20_000).toISOString() });
    expect(planRemoveAll([refused], [late], EXT, NOW)).toEqual([expect.objectContaining({ kind: 'deregister', cloudcraftId: 'late' })]);
    expect(kinds(run({ ledger: [refused], actual: [] }))).toEqual(['wait:111111111111']);
    expect(kinds(run({ ledger: [{ ...refused, goneSince: NOW - 25 * HOUR }], actual: [late] }))).toEqual(['deregister:111111111111']);
  });

  test('the settle time counts from the last POST, not the first', () => {
    const entry = { ...posting(NOW - HOUR), lastPostAt: NOW - 10_000 };
    expect(kinds(run({ desired: [want('111111111111')], ledger: [entry] }))).toEqual(['wait:111111111111']);
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

  test('with a POST unconfirmed: kept while the POST may still complete (without holding the run), then forgotten', () => {
    const entry: LedgerEntry = { accountId: '111111111111', roleArn: role('111111111111'), state: 'posting', postedAt: NOW - 2 * HOUR, lastPostAt: NOW - 10 * 60_000 };
    const waiting = run({ ledger: [entry] });
    expect(waiting).toEqual([expect.objectContaining({ kind: 'wait' })]);
    expect((waiting[0] as { why: string }).why.startsWith('an earlier')).toBe(false);
    expect(kinds(run({ ledger: [{ ...entry, lastPostAt: NOW - 21 * 60_000 }] }))).toEqual(['forget:111111111111']);
    const shown = reg('late', '111111111111', { createdAt: new Date(NOW - 9 * 60_000).toISOString() });
    expect(kinds(run({ ledger: [entry], actual: [shown] }))).toEqual(['mark-gone:111111111111']);
    expect(run({ ledger: [{ ...entry, goneSince: NOW - 25 * HOUR }], actual: [shown] })).toEqual([expect.objectContaining({ kind: 'deregister', cloudcraftId: 'late' })]);
  });

  test('are deregistered by their ID whether or not the list shows them (a DELETE of one already gone answers 404)', () => {
    expect(run({ ledger: [owned('111111111111', 'gone', { goneSince: NOW - 25 * HOUR })] })).toEqual([expect.objectContaining({ kind: 'deregister', cloudcraftId: 'gone' })]);
    expect(kinds(run({ ledger: [owned('111111111111', 'gone')] }))).toEqual(['mark-gone:111111111111']);
  });

  test('nothing at all while the desired set is incomplete (a target could not be read)', () => {
    const ledger = [owned('111111111111', 'a', { goneSince: NOW - 25 * HOUR }), owned('222222222222', 'b')];
    expect(run({ actual: [reg('a', '111111111111'), reg('b', '222222222222')], ledger, complete: false })).toEqual([]);
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
  // The one the list leaves out too: by its ID (a list that left it out must not orphan it).
  expect(kinds(actions).sort()).toEqual(['deregister:111111111111', 'deregister:222222222222', 'deregister:333333333333']);
});
