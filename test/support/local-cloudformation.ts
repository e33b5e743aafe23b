/**
 * A local stand-in for CloudFormation StackSets' ListStackInstances (and a stack's ListStackResources) on 127.0.0.1, speaking the awsQuery protocol
 * that @aws-sdk/client-cloudformation uses (AwsQueryProtocol in its runtime config): a form-encoded POST /
 * `Action=ListStackInstances&Version=2010-05-15&...` (lists as `Filters.member.1.Name`), an XML answer
 * `<ListStackInstancesResponse><ListStackInstancesResult><Summaries><member>...`, and XML errors
 * `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>` with the status the model
 * gives the code (StackSetNotFoundException 404, OperationInProgressException 409, else 400; 500 for Receiver faults).
 *
 * Shapes and semantics from the CloudFormation API reference (ListStackInstances, StackInstanceSummary:
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ListStackInstances.html): summaries carry
 * StackSetId, Region, Account, StackId, Status (CURRENT | OUTDATED | INOPERABLE), StatusReason,
 * StackInstanceStatus.DetailedStatus, OrganizationalUnitId, DriftStatus and LastOperationId, paged with NextToken;
 * a delegated administrator must pass `CallAs=DELEGATED_ADMIN` on every call.
 */
import * as http from 'http';
import { LocalServer } from './local-server';

export type InstanceStatus = 'CURRENT' | 'OUTDATED' | 'INOPERABLE';
export type DetailedStatus = 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED' | 'INOPERABLE' | 'SKIPPED_SUSPENDED_ACCOUNT' | 'FAILED_IMPORT';
export type DriftStatus = 'DRIFTED' | 'IN_SYNC' | 'UNKNOWN' | 'NOT_CHECKED';

export interface LocalCloudFormationOptions {
  readonly stackSetName?: string;
  /** The caller is a delegated administrator: calls must say `CallAs=DELEGATED_ADMIN`. */
  readonly delegatedAdmin?: boolean;
  readonly pageSize?: number;
  /** The account and region the stack set lives in (the caller's). */
  readonly accountId?: string;
  readonly region?: string;
}

export interface StackInstanceInput {
  readonly account: string;
  readonly region: string;
  readonly ou: string;
  readonly status: InstanceStatus;
  /** A DetailedStatus; any string is taken (callers often hold it as one), and answered as given. */
  readonly detailedStatus: DetailedStatus | (string & {});
  readonly statusReason?: string;
  readonly driftStatus?: DriftStatus;
  /** Defaults to a new deterministic id at each setInstance (each change is an operation). */
  readonly lastOperationId?: string;
  /** Defaults to a stack ARN, except while the instance is PENDING (no stack yet). */
  readonly stackId?: string;
}

export interface StackInstance extends StackInstanceInput {
  readonly driftStatus: DriftStatus;
  readonly lastOperationId: string;
}

/** A resource of a stack, for ListStackResources. */
export interface StackResourceInput {
  readonly logicalId: string;
  readonly physicalId?: string;
  readonly type: string;
  readonly status: string;
}

export interface CloudFormationCall {
  readonly action: string;
  /** The form parameters as sent (e.g. `StackSetName`, `CallAs`, `Filters.member.1.Name`). */
  readonly params: Record<string, string>;
}

const STATUS_OF_CODE: Record<string, number> = {
  StackSetNotFoundException: 404,
  OperationInProgressException: 409,
  InternalFailure: 500,
  ServiceUnavailable: 503,
};

export class LocalCloudFormation extends LocalServer {
  public readonly stackSetName: string;
  public readonly stackSetId: string;
  public readonly delegatedAdmin: boolean;
  public readonly pageSize: number;
  public readonly accountId: string;
  public readonly region: string;
  public readonly calls: CloudFormationCall[] = [];

  private readonly stackInstances = new Map<string, StackInstance>();
  private readonly stacks = new Map<string, StackResourceInput[]>();
  private readonly failures: Array<{ action: string; code: string; remaining: number }> = [];
  private counter = 0;

  constructor(options: LocalCloudFormationOptions = {}) {
    super();
    this.stackSetName = options.stackSetName ?? 'cloudcraft-integration';
    this.stackSetId = `${this.stackSetName}:${uuid(0)}`;
    this.delegatedAdmin = options.delegatedAdmin ?? false;
    this.pageSize = options.pageSize ?? 5;
    this.accountId = options.accountId ?? '111111111111';
    this.region = options.region ?? 'us-east-1';
  }

  /** Adds or replaces the instance of (account, region). */
  setInstance(input: StackInstanceInput): StackInstance {
    const instance: StackInstance = {
      ...input,
      driftStatus: input.driftStatus ?? 'NOT_CHECKED',
      lastOperationId: input.lastOperationId ?? uuid(++this.counter),
      stackId: input.stackId ?? (input.detailedStatus === 'PENDING' ? undefined
        : `arn:aws:cloudformation:${input.region}:${input.account}:stack/StackSet-${this.stackSetName}-${uuid(1000 + this.stackInstances.size)}`),
    };
    this.stackInstances.set(`${input.account}/${input.region}`, instance);
    return instance;
  }

  removeInstance(account: string, region: string): void {
    this.stackInstances.delete(`${account}/${region}`);
  }

  instances(): StackInstance[] {
    return [...this.stackInstances.values()];
  }

  /** The next `times` calls of `action` fail with `code` (e.g. Throttling, StackSetNotFoundException, InternalFailure). */
  failNext(action: string, code: string, times = 1): void {
    this.failures.push({ action, code, remaining: times });
  }

  protected handle(req: http.IncomingMessage, body: string, res: http.ServerResponse): void {
    const requestId = uuid(9000 + this.calls.length);
    const fail = (code: string, message: string) => {
      const status = STATUS_OF_CODE[code] ?? 400;
      res.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
      res.end(`<ErrorResponse xmlns="${XMLNS}"><Error><Type>${status >= 500 ? 'Receiver' : 'Sender'}</Type><Code>${xml(code)}</Code>`
        + `<Message>${xml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`);
    };
    const params = Object.fromEntries(new URLSearchParams(body));
    const action = params.Action ?? '';
    if (req.method !== 'POST' || params.Version !== '2010-05-15' || !String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) {
      return fail('InvalidAction', `unexpected ${req.method} ${req.headers['content-type']} ${body}`);
    }
    this.calls.push({ action, params });

    const failure = this.failures.find(f => f.action === action && f.remaining > 0);
    if (failure) {
      failure.remaining--;
      return fail(failure.code, failure.code === 'Throttling' ? 'Rate exceeded' : `injected ${failure.code}`);
    }
    if (action === 'ListStackResources') return this.listStackResources(params, res, requestId, fail);
    if (action !== 'ListStackInstances') return fail('InvalidAction', `The action ${action} is not valid for this web service.`);

    const callAs = params.CallAs ?? 'SELF';
    if (callAs === 'DELEGATED_ADMIN' && !this.delegatedAdmin) {
      // What AWS answers a management account (or any non-delegated account) calling as DELEGATED_ADMIN.
      return fail('ValidationError', 'Account used is not a delegated administrator');
    }
    const name = params.StackSetName;
    // A delegated administrator calling as SELF looks among the stack sets its own account owns, where the
    // service-managed stack set is not: AWS answers 404 StackSetNotFoundException ("StackSet <name> not found"),
    // not a ValidationError (as seen from DescribeStackSet / DescribeStackSetOperation without CallAs).
    if ((name !== this.stackSetName && name !== this.stackSetId) || (this.delegatedAdmin && callAs !== 'DELEGATED_ADMIN')) {
      return fail('StackSetNotFoundException', `StackSet ${name} not found`);
    }

    const filters = filtersOf(params);
    for (const f of filters) {
      if (!['DETAILED_STATUS', 'DRIFT_STATUS', 'LAST_OPERATION_ID'].includes(f.name)) return fail('ValidationError', `Invalid filter name ${f.name}`);
    }
    const matching = this.instances().filter(i =>
      (params.StackInstanceAccount === undefined || i.account === params.StackInstanceAccount)
      && (params.StackInstanceRegion === undefined || i.region === params.StackInstanceRegion)
      && filters.every(f => f.value === (f.name === 'DETAILED_STATUS' ? i.detailedStatus : f.name === 'DRIFT_STATUS' ? i.driftStatus : i.lastOperationId)));

    const max = params.MaxResults === undefined ? this.pageSize : Number(params.MaxResults);
    if (!(max >= 1 && max <= 100)) return fail('ValidationError', 'MaxResults must be between 1 and 100');
    const offset = params.NextToken === undefined ? 0 : decodeToken(params.NextToken, name);
    if (offset === undefined) return fail('ValidationError', 'Invalid NextToken');
    const end = offset + Math.min(max, this.pageSize);
    const members = matching.slice(offset, end).map(i => `<member>${this.summary(i)}</member>`).join('');
    const next = end < matching.length ? `<NextToken>${encodeToken(name, end)}</NextToken>` : '';
    res.writeHead(200, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
    res.end(`<ListStackInstancesResponse xmlns="${XMLNS}"><ListStackInstancesResult><Summaries>${members}</Summaries>${next}`
      + `</ListStackInstancesResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></ListStackInstancesResponse>`);
  }

  /** Sets what ListStackResources answers for a stack (its ARN; callers may also name it by its name). */
  setStackResources(stackId: string, resources: StackResourceInput[]): void {
    this.stacks.set(stackId, resources);
  }

  /** ListStackResources: StackName is the stack's name or ID; summaries paged with NextToken. */
  private listStackResources(params: Record<string, string>, res: http.ServerResponse, requestId: string,
    fail: (code: string, message: string) => void): void {
    const name = params.StackName ?? '';
    const stackId = [...this.stacks.keys()].find(id => id === name || id.split('/')[1] === name);
    if (!stackId) return fail('ValidationError', `Stack with id ${name} does not exist`);
    const resources = this.stacks.get(stackId)!;
    const offset = params.NextToken === undefined ? 0 : decodeToken(params.NextToken, stackId);
    if (offset === undefined) return fail('ValidationError', 'Invalid NextToken');
    const end = offset + this.pageSize;
    const members = resources.slice(offset, end).map(r => '<member>' + [
      ['LogicalResourceId', r.logicalId], ['PhysicalResourceId', r.physicalId], ['ResourceType', r.type],
      ['LastUpdatedTimestamp', '2026-11-24T10:00:00.000Z'], ['ResourceStatus', r.status],
    ].map(([key, value]) => (value === undefined ? '' : `<${key}>${xml(value)}</${key}>`)).join('') + '</member>').join('');
    const next = end < resources.length ? `<NextToken>${encodeToken(stackId, end)}</NextToken>` : '';
    res.writeHead(200, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
    res.end(`<ListStackResourcesResponse xmlns="${XMLNS}"><ListStackResourcesResult><StackResourceSummaries>${members}</StackResourceSummaries>${next}`
      + `</ListStackResourcesResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></ListStackResourcesResponse>`);
  }

  private summary(i: StackInstance): string {
    const fields: Array<[string, string | undefined]> = [
      ['StackSetId', this.stackSetId],
      ['Region', i.region],
      ['Account', i.account],
      ['StackId', i.stackId],
      ['Status', i.status],
      ['StatusReason', i.statusReason],
      ['StackInstanceStatus', undefined],
      ['OrganizationalUnitId', i.ou],
      ['DriftStatus', i.driftStatus],
      ['LastOperationId', i.lastOperationId],
    ];
    return fields.map(([key, value]) => key === 'StackInstanceStatus'
      ? `<StackInstanceStatus><DetailedStatus>${i.detailedStatus}</DetailedStatus></StackInstanceStatus>`
      : value === undefined ? '' : `<${key}>${xml(value)}</${key}>`).join('');
  }
}

const XMLNS = 'http://cloudformation.amazonaws.com/doc/2010-05-15/';

/** `Filters.member.N.Name` / `Filters.member.N.Values` pairs. */
function filtersOf(params: Record<string, string>): Array<{ name: string; value: string }> {
  const filters: Array<{ name: string; value: string }> = [];
  for (let n = 1; params[`Filters.member.${n}.Name`] !== undefined; n++) {
    filters.push({ name: params[`Filters.member.${n}.Name`], value: params[`Filters.member.${n}.Values`] ?? '' });
  }
  return filters;
}

/** A deterministic UUID-shaped id. */
function uuid(n: number): string {
  return `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function encodeToken(stackSet: string, offset: number): string {
  return Buffer.from(JSON.stringify({ stackSet, offset })).toString('base64');
}

function decodeToken(token: string, stackSet: string): number | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    return parsed.stackSet === stackSet && Number.isInteger(parsed.offset) ? parsed.offset : undefined;
  } catch {
    return undefined;
  }
}
