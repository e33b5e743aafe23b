/**
 * What the Organization wants registered: the ACTIVE accounts of the target OUs (nested OUs included, the account
 * filter applied) whose stack instance in the home region SUCCEEDED, plus this account. Reading (I/O, per target) is
 * apart from deciding (`desiredSet`, pure).
 *
 * A read that fails never removes anything: a target that cannot be read (an OU deleted or moved:
 * ParentNotFoundException, or any other error) is reported with what to change, the accounts of the other targets
 * are registered as usual, and no account is deregistered in that run (`complete` false), as an account missing from
 * the answer may only be in the target that was not read.
 */
import { AwsIo, OrgAccount, StackInstance } from './aws';
import { nameOf, RegistrarConfig, roleArnOf, teamEntries } from './config';
import { DesiredAccount } from './reconcile';

export interface FoundAccount {
  readonly name: string;
  readonly state: string;
  /** The OUs above it, nearest first, up to the target. */
  readonly ous: string[];
}

export interface OrganizationView {
  readonly accounts: Map<string, FoundAccount>;
  /** Targets whose tree could not be read whole, with a reason a person can act on. */
  readonly failedTargets: Array<{ readonly target: string; readonly reason: string }>;
  /** This account, as DescribeAccount answered, when it is not in a target; `failed` when that read failed. */
  readonly self?: { readonly account?: OrgAccount; readonly failed?: string };
}

export interface DesiredSet {
  readonly desired: DesiredAccount[];
  /** Accounts not desired now, and not to be deregistered either. */
  readonly keep: Set<string>;
  /** False when a read failed: nothing is deregistered, as a missing account may only be unread. */
  readonly complete: boolean;
  /** Accounts whose stack instance FAILED (their role may not exist), with StackSets' reason. */
  readonly failedInstances: Array<{ readonly accountId: string; readonly reason: string }>;
  /** What could not be read, for the log and the run's error. */
  readonly problems: string[];
}

/** Reads the targets' trees, each on its own: one that fails stops nothing but itself. */
export async function readOrganization(io: AwsIo, config: RegistrarConfig): Promise<OrganizationView> {
  const accounts = new Map<string, FoundAccount>();
  const failedTargets: Array<{ target: string; reason: string }> = [];
  const visit = async (parentId: string, ous: string[]): Promise<void> => {
    for (const account of await io.accountsOf(parentId)) {
      // Targets may nest (an OU and one inside it): the longest chain of OUs, whatever the order of the targets.
      if ((accounts.get(account.id)?.ous.length ?? -1) < ous.length) accounts.set(account.id, { name: account.name, state: account.state, ous });
    }
    for (const ou of await io.ousOf(parentId)) await visit(ou, [ou, ...ous]);
  };
  for (const target of config.targets) {
    try {
      await visit(target, target.startsWith('ou-') ? [target] : []);
    } catch (err) {
      failedTargets.push({ target, reason: targetProblem(target, err) });
    }
  }
  let self: OrganizationView['self'];
  const me = config.thisAccount?.accountId;
  if (me && !accounts.has(me)) {
    try {
      self = { account: await io.describeAccount(me) };
    } catch (err) {
      self = { failed: `AWS Organizations: DescribeAccount of this account ${me} failed (${awsErrorText(err)}).` };
    }
  }
  return { accounts, failedTargets, self };
}

export function desiredSet(config: RegistrarConfig, view: OrganizationView, instances: StackInstance[]): DesiredSet {
  const filter = config.accountFilter;
  const inFilter = (id: string) => !filter || (filter.type === 'INTERSECTION' ? filter.accounts.includes(id) : !filter.accounts.includes(id));
  const byAccount = new Map<string, StackInstance>();
  for (const instance of instances) if (instance.region === config.homeRegion) byAccount.set(instance.account, instance);

  const desired: DesiredAccount[] = [];
  const keep = new Set<string>();
  const failedInstances: Array<{ accountId: string; reason: string }> = [];
  for (const [accountId, account] of view.accounts) {
    if (!inFilter(accountId) || account.state !== 'ACTIVE') continue;
    if (config.thisAccount?.accountId === accountId) continue;
    const instance = byAccount.get(accountId);
    const status = instance?.detailedStatus;
    if (status === 'SUCCEEDED') {
      desired.push(desiredAccount(config, accountId, roleArnOf(config, accountId), account.name, account.ous));
    } else if (status === 'PENDING' || status === 'RUNNING' || status === 'FAILED' || status === 'CANCELLED') {
      // Being deployed, or its last operation failed or was cancelled (the member stack rolled back: a role it had is
      // still there): a registered account is kept (deregistering would change its ID), an unregistered one waits.
      keep.add(accountId);
      if (status === 'FAILED') failedInstances.push({ accountId, reason: instance?.statusReason || 'no reason given by StackSets' });
    }
  }
  const problems = view.failedTargets.map(t => t.reason);
  const me = config.thisAccount?.accountId;
  if (me) {
    const found = view.accounts.get(me);
    if (found || view.self?.account) {
      desired.push(desiredAccount(config, me, roleArnOf(config, me), found?.name ?? view.self?.account?.name, found?.ous ?? []));
    } else {
      // Its name is unknown: nothing is changed for it (a rename to its ID would be a failed read acting).
      keep.add(me);
      if (view.self?.failed) problems.push(view.self.failed);
    }
  }
  return { desired, keep, complete: problems.length === 0, failedInstances, problems };
}

function desiredAccount(config: RegistrarConfig, accountId: string, roleArn: string, orgName: string | undefined, ous: string[]): DesiredAccount {
  const { access } = config;
  const byOu = ous.map(ou => access.byOu?.[ou]).find(a => a !== undefined);
  return {
    accountId,
    roleArn,
    name: nameOf(config, accountId, orgName),
    readAccess: teamEntries(byOu?.read ?? access.read),
    writeAccess: teamEntries(byOu?.write ?? access.write),
  };
}

function awsErrorText(err: unknown): string {
  const e = err as { name?: string; message?: string };
  return `${e?.name ?? 'Error'}: ${String(e?.message ?? err).slice(0, 200)}`;
}

function targetProblem(target: string, err: unknown): string {
  if ((err as { name?: string })?.name === 'ParentNotFoundException') {
    return `The target ${target} of organizationalUnitIds no longer exists in AWS Organizations (ParentNotFoundException): change organizationalUnitIds and deploy again. The other targets' accounts are registered as usual; nothing is deregistered while a target cannot be read.`;
  }
  return `AWS Organizations: the target ${target} could not be read (${awsErrorText(err)}). The other targets' accounts are registered as usual; nothing is deregistered while a target cannot be read.`;
}
