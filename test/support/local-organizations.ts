/**
 * A local stand-in for AWS Organizations on 127.0.0.1, speaking the AWS JSON 1.1 protocol as
 * @aws-sdk/client-organizations sends it: POST /, `X-Amz-Target: AWSOrganizationsV20161128.<Operation>`,
 * `content-type: application/x-amz-json-1.1`; errors are `{"__type", "Message"}` (400, or 500 for ServiceException),
 * which the SDK turns into the named exception. Timestamps are epoch seconds, as the JSON protocol sends them.
 *
 * Shapes and semantics from the Organizations API reference (Account, ListAccountsForParent:
 * https://docs.aws.amazon.com/organizations/latest/APIReference/API_Account.html): accounts carry
 * `State` (PENDING_ACTIVATION | ACTIVE | SUSPENDED | PENDING_CLOSURE | CLOSED) and the older `Status` (ACTIVE |
 * SUSPENDED | PENDING_CLOSURE); every List operation pages with NextToken. The model is mutable between calls and
 * fully deterministic (counters, no randomness, no clock).
 */
import * as http from 'http';
import { LocalServer } from './local-server';

export type AccountState = 'PENDING_ACTIVATION' | 'ACTIVE' | 'SUSPENDED' | 'PENDING_CLOSURE' | 'CLOSED';

export interface LocalOrganizationsOptions {
  readonly managementAccountId?: string;
  readonly organizationId?: string;
  readonly rootId?: string;
  /** The most items a page holds (MaxResults is capped by it). */
  readonly pageSize?: number;
}

export interface AddAccountOptions {
  readonly id?: string;
  readonly name: string;
  readonly parentId: string;
  readonly state?: AccountState;
  readonly email?: string;
  readonly joinedMethod?: 'INVITED' | 'CREATED';
  /** Answer without `State`, only the legacy `Status` (an older reading of the API). */
  readonly legacyStatusOnly?: boolean;
}

export interface OrganizationsCall {
  readonly operation: string;
  readonly input: any;
}

interface AccountRecord {
  id: string;
  name: string;
  email: string;
  state: AccountState;
  parentId: string;
  joinedMethod: string;
  joinedTimestamp: number;
  legacyStatusOnly: boolean;
}

/** The legacy `Status` for each `State` (it knows only ACTIVE, SUSPENDED and PENDING_CLOSURE). */
const LEGACY_STATUS: Record<AccountState, string> = {
  PENDING_ACTIVATION: 'ACTIVE', // not documented; the account exists but cannot be used yet
  ACTIVE: 'ACTIVE',
  SUSPENDED: 'SUSPENDED',
  PENDING_CLOSURE: 'PENDING_CLOSURE',
  CLOSED: 'SUSPENDED',
};

const ERROR_MESSAGES: Record<string, string> = {
  AccountNotFoundException: 'You specified an account that doesn\'t exist.',
  ParentNotFoundException: 'We can\'t find a root or OU with the ParentId that you specified.',
  ChildNotFoundException: 'We can\'t find an organizational unit (OU) or AWS account with the ChildId that you specified.',
  AccessDeniedException: 'You don\'t have permissions to perform the requested operation.',
  TooManyRequestsException: 'You have sent too many requests in too short a period of time.',
  ServiceException: 'AWS Organizations can\'t complete your request because of an internal service error.',
};

const JOINED_BASE = 1_700_000_000; // epoch seconds; each account joins one day after the previous

export class LocalOrganizations extends LocalServer {
  public readonly managementAccountId: string;
  public readonly organizationId: string;
  public readonly rootId: string;
  public readonly pageSize: number;
  public readonly calls: OrganizationsCall[] = [];

  private readonly ous = new Map<string, { id: string; name: string; parentId: string }>();
  private readonly accounts = new Map<string, AccountRecord>();
  private readonly failures: Array<{ operation: string; errorType: string; remaining: number }> = [];
  private ouCounter = 0;
  private accountCounter = 0;

  constructor(options: LocalOrganizationsOptions = {}) {
    super();
    this.managementAccountId = options.managementAccountId ?? '111111111111';
    this.organizationId = options.organizationId ?? 'o-abcdefghij';
    this.rootId = options.rootId ?? 'r-ab12';
    this.pageSize = options.pageSize ?? 5;
    this.addAccount({ id: this.managementAccountId, name: 'management', parentId: this.rootId, joinedMethod: 'INVITED' });
  }

  /** Adds an OU under a root or OU; returns its id (`ou-<root>-<8 digits>`). */
  addOu(parentId: string, name: string): string {
    this.requireParent(parentId);
    const id = `ou-${this.rootId.slice(2)}-${String(++this.ouCounter).padStart(8, '0')}`;
    this.ous.set(id, { id, name, parentId });
    return id;
  }

  /** Adds an account (ACTIVE unless told) under a root or OU; returns its 12-digit id. */
  addAccount(opts: AddAccountOptions): string {
    this.requireParent(opts.parentId);
    let id = opts.id;
    while (id === undefined || (opts.id === undefined && this.accounts.has(id))) {
      id = String(200000000000 + ++this.accountCounter);
    }
    if (!/^\d{12}$/.test(id) || this.accounts.has(id)) throw new Error(`invalid or duplicate account id ${id}`);
    this.accounts.set(id, {
      id,
      name: opts.name,
      email: opts.email ?? `aws+${id}@example.com`,
      state: opts.state ?? 'ACTIVE',
      parentId: opts.parentId,
      joinedMethod: opts.joinedMethod ?? 'CREATED',
      joinedTimestamp: JOINED_BASE + this.accounts.size * 86_400 + 0.5,
      legacyStatusOnly: opts.legacyStatusOnly ?? false,
    });
    return id;
  }

  moveAccount(id: string, newParentId: string): void {
    this.requireParent(newParentId);
    this.account(id).parentId = newParentId;
  }

  setState(id: string, state: AccountState): void {
    this.account(id).state = state;
  }

  /** The account leaves the organization: it is no longer found. */
  removeAccount(id: string): void {
    this.account(id);
    this.accounts.delete(id);
  }

  renameAccount(id: string, name: string): void {
    this.account(id).name = name;
  }

  /** The next `times` calls of `operation` fail with `errorType` (500 for ServiceException, else 400). */
  failNext(operation: string, errorType: string, times = 1): void {
    this.failures.push({ operation, errorType, remaining: times });
  }

  protected handle(req: http.IncomingMessage, body: string, res: http.ServerResponse): void {
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': `req-${this.calls.length}` });
      res.end(JSON.stringify(payload));
    };
    const fail = (type: string, message = ERROR_MESSAGES[type] ?? type) =>
      send(type === 'ServiceException' ? 500 : 400, { __type: type, Message: message });

    const target = String(req.headers['x-amz-target'] ?? '');
    const prefix = 'AWSOrganizationsV20161128.';
    if (req.method !== 'POST' || !target.startsWith(prefix) || req.headers['content-type'] !== 'application/x-amz-json-1.1') {
      return fail('UnknownOperationException', `unexpected ${req.method} ${target} ${req.headers['content-type']}`);
    }
    const operation = target.slice(prefix.length);
    const input = JSON.parse(body || '{}');
    this.calls.push({ operation, input });

    const failure = this.failures.find(f => f.operation === operation && f.remaining > 0);
    if (failure) {
      failure.remaining--;
      return fail(failure.errorType);
    }
    try {
      return send(200, this.answer(operation, input));
    } catch (e) {
      if (e instanceof ApiError) return fail(e.type, e.message || undefined);
      throw e;
    }
  }

  private answer(operation: string, input: any): unknown {
    switch (operation) {
      case 'DescribeOrganization':
        return {
          Organization: {
            Id: this.organizationId,
            Arn: `arn:aws:organizations::${this.managementAccountId}:organization/${this.organizationId}`,
            FeatureSet: 'ALL',
            MasterAccountArn: this.accountArn(this.managementAccountId),
            MasterAccountId: this.managementAccountId,
            MasterAccountEmail: this.account(this.managementAccountId).email,
            AvailablePolicyTypes: [],
          },
        };
      case 'ListRoots':
        return this.page(operation, input, 'Roots', [{
          Id: this.rootId,
          Arn: `arn:aws:organizations::${this.managementAccountId}:root/${this.organizationId}/${this.rootId}`,
          Name: 'Root',
          PolicyTypes: [],
        }]);
      case 'ListOrganizationalUnitsForParent':
        return this.page(operation, input, 'OrganizationalUnits', this.ousOf(input.ParentId).map(ou => this.ouShape(ou.id)));
      case 'ListAccountsForParent':
        return this.page(operation, input, 'Accounts', this.accountsOf(input.ParentId).map(a => this.accountShape(a)));
      case 'ListChildren': {
        const children = input.ChildType === 'ACCOUNT' ? this.accountsOf(input.ParentId)
          : input.ChildType === 'ORGANIZATIONAL_UNIT' ? this.ousOf(input.ParentId)
            : invalid(`ChildType ${input.ChildType}`);
        return this.page(operation, input, 'Children', children.map(c => ({ Id: c.id, Type: input.ChildType })));
      }
      case 'ListParents': {
        const parentId = this.accounts.get(input.ChildId)?.parentId ?? this.ous.get(input.ChildId)?.parentId;
        if (parentId === undefined) throw new ApiError('ChildNotFoundException');
        return this.page(operation, input, 'Parents', [{ Id: parentId, Type: parentId === this.rootId ? 'ROOT' : 'ORGANIZATIONAL_UNIT' }]);
      }
      case 'DescribeAccount':
        if (!this.accounts.has(input.AccountId)) throw new ApiError('AccountNotFoundException');
        return { Account: this.accountShape(this.account(input.AccountId)) };
      case 'ListAccounts':
        return this.page(operation, input, 'Accounts', [...this.accounts.values()].map(a => this.accountShape(a)));
      default:
        throw new ApiError('UnknownOperationException', `operation ${operation} is not emulated`);
    }
  }

  /** One page of `items`: at most min(MaxResults, pageSize) from the offset NextToken names. */
  private page(operation: string, input: any, key: string, items: unknown[]): Record<string, unknown> {
    if (input.MaxResults !== undefined && !(input.MaxResults >= 1 && input.MaxResults <= 20)) invalid('MaxResults must be 1..20');
    let offset = 0;
    if (input.NextToken !== undefined) {
      const token = decodeToken(input.NextToken);
      if (token?.operation !== operation) invalid('The provided NextToken is not valid.');
      offset = token.offset;
    }
    const size = Math.min(input.MaxResults ?? this.pageSize, this.pageSize);
    const end = offset + size;
    const next = end < items.length ? encodeToken(operation, end) : undefined;
    return { [key]: items.slice(offset, end), ...(next ? { NextToken: next } : {}) };
  }

  private requireParent(parentId: string): void {
    if (parentId !== this.rootId && !this.ous.has(parentId)) throw new ApiError('ParentNotFoundException');
  }

  private ousOf(parentId: string) {
    this.requireParent(parentId);
    return [...this.ous.values()].filter(ou => ou.parentId === parentId);
  }

  private accountsOf(parentId: string) {
    this.requireParent(parentId);
    return [...this.accounts.values()].filter(a => a.parentId === parentId);
  }

  private account(id: string): AccountRecord {
    const account = this.accounts.get(id);
    if (!account) throw new ApiError('AccountNotFoundException');
    return account;
  }

  private accountArn(id: string): string {
    return `arn:aws:organizations::${this.managementAccountId}:account/${this.organizationId}/${id}`;
  }

  private ouShape(id: string) {
    const ou = this.ous.get(id)!;
    return { Id: ou.id, Arn: `arn:aws:organizations::${this.managementAccountId}:ou/${this.organizationId}/${ou.id}`, Name: ou.name };
  }

  private accountShape(a: AccountRecord) {
    return {
      Id: a.id,
      Arn: this.accountArn(a.id),
      Email: a.email,
      Name: a.name,
      ...(a.legacyStatusOnly ? {} : { State: a.state }),
      Status: LEGACY_STATUS[a.state],
      JoinedMethod: a.joinedMethod,
      JoinedTimestamp: a.joinedTimestamp,
    };
  }
}

/** A modelled error; the message defaults to the service's usual one. */
class ApiError extends Error {
  constructor(readonly type: string, message = '') {
    super(message);
  }
}

function invalid(message: string): never {
  throw new ApiError('InvalidInputException', message);
}

function encodeToken(operation: string, offset: number): string {
  return Buffer.from(JSON.stringify({ operation, offset })).toString('base64');
}

function decodeToken(token: string): { operation: string; offset: number } | undefined {
  try {
    return JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
}
