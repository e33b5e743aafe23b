/**
 * A local Cloudcraft API emulator, written from Cloudcraft's API reference and official SDKs (the facts are kept in
 * the project's shared reference notes; no test reads them), served on 127.0.0.1 or in process.
 *
 * - AWS-account endpoints: GET/POST /aws/account, PUT/DELETE /aws/account/{id}, GET /aws/account/iamParameters,
 *   GET /user/me, GET /team; account objects with every documented field.
 * - Bearer keys per user, with role (Owner, Administrator, ...), plan and read-only flag: 401 and 403 as documented.
 * - Error bodies {"error", "reason", "code"}.
 * - A per-key rate limit (N requests per window) answering 429, with or without Retry-After.
 * - Role verification on POST (and on PUT with a new role): the role must exist in the emulated AWS, be
 *   assumable (a role can be made to become assumable only after a delay, like IAM propagation), trust
 *   Cloudcraft's account with the key owner's external ID, and the verification region must not be blocked.
 * - No idempotency: a second POST of the same role makes a duplicate, as Cloudcraft is believed to.
 * - Faults injected per route: any status and body, a non-JSON body, a hang, a reset connection, or a fault
 *   after the action was done (the client cannot tell whether it happened).
 * - Snapshots (GET /aws/account/{id}/{region}/{format}): a scan of `inventories` that takes `snapshotScanMs`, a
 *   long poll of up to 120 s and then 202 STILL_PROCESSING; deterministic JSON (wrapped in {"data": ...} or not), SVG
 *   and a real PNG; 400 for a region that is not one, 404 for an unknown registration.
 * - The live policies (GET /aws/account/iamParameters/policy/minimal and /custom): `policies`, the vendored copies
 *   unless a test changes them (a string is sent as it is, not as JSON).
 * - Blueprints (GET/POST /blueprint, GET/PUT/DELETE /blueprint/{id}): an ETag per version, PUT with If-Match refused
 *   with 412 once someone else changed it (`editBlueprint`); `blueprintEtags: false` for the reading where no ETag is
 *   sent. Exports (GET /blueprint/{id}/{format}) have their own limit, 5 a minute per key.
 * - Time comes from an injected clock (a VirtualClock in tests on virtual time), or the wall clock, optionally scaled.
 */
import { createHash, randomUUID } from 'crypto';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as zlib from 'zlib';
import customPolicy from '../../lib/role/policies/cloudcraft-custom-policy.2023-08-18.json';
import minimalPolicy from '../../lib/role/policies/cloudcraft-minimal-policy.2025-01.json';
import { Clock, systemClock } from '../../lib/runtime/clock';
import { CloudcraftClient, CloudcraftClientOptions } from '../../lib/runtime/cloudcraft';
import { HttpRequest, HttpResponse, Transport, TransportError } from '../../lib/runtime/http';
import { Pacer } from '../../lib/runtime/pacer';
import { localPacing } from '../../lib/runtime/pacing';

export const CLOUDCRAFT_AWS_ACCOUNT = '968898580625';
/** How long a snapshot request is held before 202 STILL_PROCESSING (Cloudcraft's API reference: 120 s). */
export const SNAPSHOT_LONG_POLL_MS = 120_000;
const SNAPSHOT_FORMATS = ['json', 'svg', 'png', 'pdf', 'mxGraph'];
/** Blueprint exports a key may ask for per minute (Cloudcraft's FAQ), on top of the general limit. */
export const BLUEPRINT_EXPORTS_PER_MINUTE = 5;

export interface Blueprint {
  id: string;
  name: string;
  data: Record<string, unknown>;
  readAccess: string[] | null;
  writeAccess: string[] | null;
  CreatorId: string;
  LastUserId: string;
  createdAt: string;
  updatedAt: string;
  /** The version's tag (sent as ETag). */
  etag: string;
}

/** A component a scan finds. */
export interface Component {
  readonly id: string;
  readonly type: string;
}

export interface EmulatorUser {
  readonly key: string;
  readonly id?: string;
  readonly externalId: string;
  readonly role?: 'owner' | 'administrator' | 'editor' | 'viewer';
  readonly plan?: 'pro' | 'free';
  readonly readOnlyKey?: boolean;
}

export interface EmulatedRole {
  readonly externalId: string;
  readonly trustedAccount?: string;
  /** Emulator time (ms, unscaled) before which assuming the role fails, as during IAM propagation. */
  readonly assumableAt?: number;
}

export interface Fault {
  readonly method?: string;
  /** Matched against the path (string: exact; RegExp: test). */
  readonly path?: string | RegExp;
  readonly status?: number;
  readonly body?: unknown;
  /** Raw body text, sent as is (for non-JSON answers). */
  readonly text?: string;
  readonly headers?: Record<string, string>;
  /** Hold the request this long (emulator ms, unscaled) before answering (or forever with Infinity). */
  readonly hangMs?: number;
  /** Destroy the socket instead of answering. */
  readonly reset?: boolean;
  /** Do the action first, then answer with the fault (the client cannot know it happened). */
  readonly afterAction?: boolean;
  /** How many requests it applies to. */
  readonly times?: number;
  /**
   * Hold the request this long, then do the action, whether or not the client is still there (a slow verification
   * that completes after the client gave up); the answer follows (or the fault's status, when given).
   */
  readonly actionDelayMs?: number;
}

export interface RateLimit {
  readonly requests: number;
  /** Window, in unscaled milliseconds. */
  readonly windowMs: number;
  /** 'seconds' (Retry-After: N), 'date' (an HTTP date) or 'none' (no header). */
  readonly retryAfter: 'seconds' | 'date' | 'none';
  /** Whether rejected (429) requests count against the limit too (Cloudcraft does not say). Default: no. */
  readonly countRejected?: boolean;
}

export interface EmulatorOptions {
  readonly users?: EmulatorUser[];
  readonly rateLimit?: RateLimit;
  /** Whether PUT clears readAccess/writeAccess when they are left out (the API docs do not say). */
  readonly putClearsOmittedAccess?: boolean;
  readonly blockedRegions?: string[];
  readonly timeScale?: number;
  /** The emulator's clock (a virtual one in tests on virtual time). */
  readonly clock?: Clock;
  /** Whether another user's key may take snapshots of a registration (the team's). Default: no (403). */
  readonly snapshotAnyUser?: boolean;
  /** Whether blueprint answers carry an ETag (the reference says they do). Default: yes. */
  readonly blueprintEtags?: boolean;
}

/** What the emulator does with one request. */
export type EmulatorAnswer =
  | { readonly kind: 'answer'; readonly status: number; readonly headers: Record<string, string>; readonly text: string; readonly bytes?: Buffer }
  | { readonly kind: 'reset' }
  | { readonly kind: 'hang' };

/** The base URL of the emulator reached in process (no socket), through `transport()`. */
export const IN_PROCESS_URL = 'https://cloudcraft.emulator.test';

export interface Account {
  id: string;
  name: string;
  roleArn: string;
  externalId: string;
  readAccess: string[] | null;
  writeAccess: string[] | null;
  source: 'aws';
  createdAt: string;
  updatedAt: string;
  CreatorId: string;
  region: string;
}

export interface SeenCall {
  readonly method: string;
  readonly path: string;
  readonly status: number | 'reset' | 'hang';
  readonly body?: any;
  readonly authorization?: string;
  readonly at: number;
  /** The query string, without "?" ('' when none). */
  readonly query?: string;
  /** The If-Match header, when sent. */
  readonly ifMatch?: string;
}

interface Answer {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  /** A body that is not JSON (an image), with its content type. */
  readonly raw?: string | Buffer;
  readonly contentType?: string;
}

const ARN_ROLE = /^arn:aws(-us-gov)?:iam::\d{12}:role\/[\w+=,.@/-]+$/;

export class CloudcraftEmulator {
  public readonly accounts = new Map<string, Account>();
  public readonly roles = new Map<string, EmulatedRole>();
  public readonly calls: SeenCall[] = [];
  public readonly users: EmulatorUser[];
  public rateLimit?: RateLimit;
  /** Which reading of PUT holds: a team list left out of the body is cleared (true) or kept (false). */
  public putClearsOmittedAccess: boolean;
  private faults: Array<Fault & { left: number }> = [];
  private readonly windows = new Map<string, number[]>();
  private server?: http.Server;
  private readonly sockets = new Set<import('net').Socket>();
  private readonly scale: number;
  private readonly clock: Clock;
  /** 429 answers given. */
  public rejected429 = 0;
  /** What a scan of an AWS account's region finds, by `<awsAccountId>/<region>`. */
  public readonly inventories = new Map<string, Component[]>();
  /** How long a scan takes (emulator ms); 0: ready at the first request. */
  public snapshotScanMs = 0;
  /** Whether the JSON snapshot is wrapped in {"data": ...}. */
  public snapshotWrapped = false;
  /** Snapshots answered (any format). */
  public snapshots = 0;
  /** Scans in progress, by `<registration id>/<region>`: when each started. */
  private readonly scans = new Map<string, number>();
  /** Blueprints by id. */
  public readonly blueprints = new Map<string, Blueprint>();
  /** What GET /aws/account/iamParameters/policy/{minimal|custom} answers (a string is sent as it is). */
  public readonly policies: Record<'minimal' | 'custom', unknown> = { minimal: minimalPolicy, custom: customPolicy };
  private readonly exports = new Map<string, number[]>();
  private etags = 0;
  /** The last createdAt given, so that registrations made in the same (virtual) millisecond still have an order. */
  private lastCreatedAt = 0;

  constructor(private readonly options: EmulatorOptions = {}) {
    this.users = options.users ?? [];
    this.rateLimit = options.rateLimit;
    this.putClearsOmittedAccess = options.putClearsOmittedAccess ?? false;
    this.scale = options.timeScale ?? 1;
    this.clock = options.clock ?? {
      now: () => Date.now() / this.scale,
      sleep: (ms, signal) => systemClock.sleep(ms * this.scale, signal),
    };
  }

  /** Emulator time, unscaled ms. */
  now(): number {
    return this.clock.now();
  }

  /**
   * The emulator reached in process, as the Lambda code's `Transport`: requests to IN_PROCESS_URL go to the same
   * routes as the HTTP server's, with no socket (other URLs go to `fallback`). Hangs and delays run on the emulator's clock.
   */
  transport(fallback?: Transport): Transport {
    return async (request: HttpRequest, signal: AbortSignal): Promise<HttpResponse> => {
      if (!request.url.startsWith(IN_PROCESS_URL)) {
        if (fallback) return fallback(request, signal);
        throw new TransportError('network', 'ENOTFOUND');
      }
      const url = new URL(request.url);
      const ifMatch = request.headers['If-Match'] ?? request.headers['if-match'];
      const answer = this.dispatch(request.method, url.pathname, request.headers.Authorization ?? request.headers.authorization, request.body ?? '', signal,
        url.search.slice(1), ifMatch);
      const aborted = new Promise<never>((_, reject) => {
        const fail = () => reject(new TransportError('timeout', 'no complete answer in time'));
        if (signal.aborted) fail();
        signal.addEventListener('abort', fail, { once: true });
      });
      const result = await Promise.race([answer, aborted]);
      if (result.kind === 'reset') throw new TransportError('network', 'ECONNRESET');
      if (result.kind === 'hang') return aborted;
      const headers = Object.fromEntries(Object.entries(result.headers).map(([k, v]) => [k.toLowerCase(), v]));
      return { status: result.status, headers, text: result.text, ...(result.bytes ? { bytes: result.bytes } : {}) };
    };
  }

  get url(): string {
    const address = this.server?.address() as AddressInfo;
    return `http://127.0.0.1:${address.port}`;
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', socket => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>(resolve => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>(resolve => this.server?.close(() => resolve()) ?? resolve());
  }

  addRole(arn: string, role: EmulatedRole): void {
    this.roles.set(arn, { trustedAccount: CLOUDCRAFT_AWS_ACCOUNT, ...role });
  }

  /** Adds an account as if registered earlier (by hand or another tool). */
  seedAccount(fields: Partial<Account> & { roleArn: string; name: string }): Account {
    const at = new Date(this.now() - 86_400_000).toISOString();
    const account: Account = {
      id: randomUUID(),
      externalId: this.users[0]?.externalId ?? '',
      readAccess: null,
      writeAccess: null,
      source: 'aws',
      createdAt: at,
      updatedAt: at,
      CreatorId: this.users[0]?.id ?? 'user-1',
      region: 'us-east-1',
      ...fields,
    };
    this.accounts.set(account.id, account);
    return account;
  }

  inject(fault: Fault): void {
    this.faults.push({ ...fault, left: fault.times ?? 1 });
  }

  /** Ends every injected fault (Cloudcraft is back). */
  clearFaults(): void {
    this.faults = [];
  }

  /** Calls other than to the given paths (for counting what the handler did). */
  callsTo(method: string, path?: string | RegExp): SeenCall[] {
    return this.calls.filter(c => c.method === method && (path === undefined || (typeof path === 'string' ? c.path === path : path.test(c.path))));
  }

  registrationsOf(roleArn: string): Account[] {
    return [...this.accounts.values()].filter(a => a.roleArn === roleArn);
  }

  private takeFault(method: string, path: string): Fault | undefined {
    const index = this.faults.findIndex(f => f.left > 0 && (f.method === undefined || f.method === method)
      && (f.path === undefined || (typeof f.path === 'string' ? f.path === path : f.path.test(path))));
    if (index < 0) return undefined;
    const fault = this.faults[index];
    fault.left--;
    return fault;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const text = await new Promise<string>(resolve => {
      let data = '';
      req.on('data', chunk => (data += chunk));
      req.on('end', () => resolve(data));
    });
    const closed = new AbortController();
    res.on('close', () => closed.abort());
    const [pathname, search = ''] = (req.url ?? '/').split('?');
    const ifMatch = req.headers['if-match'];
    const answer = await this.dispatch(req.method ?? 'GET', pathname, req.headers.authorization, text, closed.signal, search, typeof ifMatch === 'string' ? ifMatch : undefined);
    if (answer.kind === 'hang') return; // never answers; the socket is destroyed at stop()
    if (answer.kind === 'reset') {
      res.socket?.destroy();
      return;
    }
    res.writeHead(answer.status, answer.headers);
    res.end(answer.bytes ?? answer.text);
  }

  /** One request, as the emulator does it (shared by the HTTP server and the in-process transport). */
  async dispatch(method: string, path: string, authorization: string | undefined, text: string, signal?: AbortSignal, query = '',
    ifMatch?: string): Promise<EmulatorAnswer> {
    let body: any;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    const record = (status: SeenCall['status']) => this.calls.push({
      method, path, status, body, authorization, at: this.now(), query, ...(ifMatch !== undefined ? { ifMatch } : {}),
    });

    const fault = this.takeFault(method, path);
    if (fault?.actionDelayMs !== undefined) {
      record('hang');
      await this.clock.sleep(fault.actionDelayMs);
      const done = await this.routeAsync(method, path, body, authorization, signal, ifMatch);
      if (signal?.aborted) return { kind: 'hang' };
      return fault.status !== undefined ? this.faultAnswer(fault) : this.answerOf(done);
    }
    if (fault && !fault.afterAction) {
      const applied = await this.applyFault(fault, record);
      if (applied) return applied;
    }
    const answer = await this.routeAsync(method, path, body, authorization, signal, ifMatch);
    if (signal?.aborted) {
      record('hang');
      return { kind: 'hang' };
    }
    if (fault && fault.afterAction) {
      const applied = await this.applyFault(fault, record);
      if (applied) return applied;
    }
    record(answer.status);
    return this.answerOf(answer);
  }

  private answerOf(answer: Answer): EmulatorAnswer {
    if (answer.raw !== undefined) {
      const bytes = Buffer.isBuffer(answer.raw) ? answer.raw : Buffer.from(answer.raw, 'utf8');
      return { kind: 'answer', status: answer.status, headers: { 'content-type': answer.contentType ?? 'application/octet-stream' }, text: bytes.toString('utf8'), bytes };
    }
    return {
      kind: 'answer',
      status: answer.status,
      headers: { 'content-type': 'application/json', ...answer.headers },
      text: answer.status === 204 ? '' : JSON.stringify(answer.body),
    };
  }

  private faultAnswer(fault: Fault): EmulatorAnswer {
    return {
      kind: 'answer',
      status: fault.status!,
      headers: { 'content-type': fault.text !== undefined ? 'text/html' : 'application/json', ...fault.headers },
      text: fault.text ?? (fault.body === undefined ? '' : JSON.stringify(fault.body)),
    };
  }

  /** The fault's answer, or undefined when it only delayed the request. */
  private async applyFault(fault: Fault, record: (s: SeenCall['status']) => void): Promise<EmulatorAnswer | undefined> {
    if (fault.hangMs !== undefined) {
      record('hang');
      if (fault.hangMs === Infinity) return { kind: 'hang' };
      await this.clock.sleep(fault.hangMs);
      if (fault.status === undefined && !fault.reset) return undefined;
    }
    if (fault.reset) {
      record('reset');
      return { kind: 'reset' };
    }
    if (fault.status !== undefined) {
      record(fault.status);
      return this.faultAnswer(fault);
    }
    return undefined;
  }

  private error(status: number, error: string, reason: string, headers: Record<string, string> = {}) {
    return { status, body: { error, reason, code: status }, headers };
  }

  /** Snapshots long-poll; every other route answers at once. */
  private async routeAsync(method: string, path: string, body: any, authorization: string | undefined, signal?: AbortSignal,
    ifMatch?: string): Promise<Answer> {
    if (path === '/blueprint' || path.startsWith('/blueprint/')) return this.blueprint(method, path, body, authorization, ifMatch);
    const snapshot = method === 'GET' ? /^\/aws\/account\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(path) : null;
    if (!snapshot || snapshot[1] === 'iamParameters') return this.route(method, path, body, authorization);
    const user = this.authorize(authorization);
    if ('status' in user) return user;
    return this.snapshot(user, decodeURIComponent(snapshot[1]), decodeURIComponent(snapshot[2]), decodeURIComponent(snapshot[3]), signal);
  }

  /** The key's user, or the answer when the key is unknown or rate-limited. */
  private authorize(authorization: string | undefined): EmulatorUser | Answer {
    const key = /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
    const user = this.users.find(u => u.key === key);
    if (!user) return this.error(401, 'Unauthorized', 'unauthorized');
    if (this.rateLimit) {
      const limited = this.limit(user.key);
      if (limited) return limited;
    }
    return user;
  }

  private route(method: string, path: string, body: any, authorization: string | undefined): Answer {
    const user = this.authorize(authorization);
    if ('status' in user) return user;

    const mutating = method !== 'GET';
    const privileged = (user.role ?? 'owner') === 'owner' || user.role === 'administrator';
    if (mutating && path.startsWith('/aws/account') && (!privileged || user.readOnlyKey || (user.plan ?? 'pro') !== 'pro')) {
      return this.error(403, 'Insufficient privileges', 'insufficient_privileges');
    }

    if (method === 'GET' && path === '/user/me') return { status: 200, body: { id: user.id ?? 'user-1', name: 'Test User', email: 'user@example.com' } };
    if (method === 'GET' && path === '/team') return { status: 200, body: { teams: [{ id: 'team-a', name: 'A' }] } };
    if (method === 'GET' && path === '/aws/account/iamParameters') {
      return { status: 200, body: { accountId: CLOUDCRAFT_AWS_ACCOUNT, externalId: user.externalId, awsConsoleUrl: 'https://console.aws.amazon.com/iam/home' } };
    }
    const policy = /^\/aws\/account\/iamParameters\/policy\/(minimal|custom)$/.exec(path);
    if (method === 'GET' && policy) {
      const answer = this.policies[policy[1] as 'minimal' | 'custom'];
      return typeof answer === 'string' ? { status: 200, raw: answer, contentType: 'text/plain' } : { status: 200, body: answer };
    }
    if (method === 'GET' && path === '/aws/account') return { status: 200, body: { accounts: [...this.accounts.values()] } };
    if (method === 'POST' && path === '/aws/account') return this.register(user, body);

    const match = /^\/aws\/account\/([^/]+)$/.exec(path);
    if (match) {
      const account = this.accounts.get(decodeURIComponent(match[1]));
      if (!account) return this.error(404, 'AWS account not found', 'not_found');
      if (method === 'PUT') return this.update(user, account, body);
      if (method === 'DELETE') {
        this.accounts.delete(account.id);
        return { status: 204 };
      }
    }
    return this.error(404, 'Not found', 'not_found');
  }

  /**
   * GET /aws/account/{id}/{region}/{format}: scans and renders one region of a registered account. The first request
   * for an account-region starts its scan, which takes `snapshotScanMs`; a request long-polls up to 120 s and then
   * answers 202 STILL_PROCESSING (the scan goes on). What a scan finds is `inventories` of the role's AWS account and
   * the region (components by id and type); the JSON is a blueprint document, wrapped in {"data": ...} when
   * `snapshotWrapped` says so (which one Cloudcraft does is not confirmed).
   */
  private async snapshot(user: EmulatorUser, id: string, region: string, format: string, signal?: AbortSignal): Promise<Answer> {
    const account = this.accounts.get(id);
    if (!account) return this.error(404, 'AWS account not found', 'not_found');
    if (!/^[a-z]{2}(-gov)?-[a-z]+-\d$/.test(region)) return this.error(400, `Invalid region parameter: ${region}`, 'invalid_parameter');
    if (!SNAPSHOT_FORMATS.includes(format)) return this.error(400, `Invalid format parameter: ${format}`, 'invalid_parameter');
    if (account.externalId !== user.externalId && !(this.options.snapshotAnyUser ?? false)) {
      return this.error(403, 'Insufficient privileges', 'insufficient_privileges');
    }
    const scanKey = `${id}/${region}`;
    const started = this.scans.get(scanKey) ?? this.now();
    this.scans.set(scanKey, started);
    const readyAt = started + (this.snapshotScanMs ?? 0);
    const wait = readyAt - this.now();
    if (wait > 0) {
      await this.clock.sleep(Math.min(wait, SNAPSHOT_LONG_POLL_MS), signal).catch(() => undefined);
      if (this.now() < readyAt) return { status: 202, body: { code: 'STILL_PROCESSING', message: 'Snapshot is still processing', retry: true } };
    }
    // A scan is done once: the next request for the account-region scans again.
    this.scans.delete(scanKey);
    const awsAccountId = /^arn:[^:]+:iam::(\d{12}):/.exec(account.roleArn)?.[1] ?? '';
    const components = [...(this.inventories.get(`${awsAccountId}/${region}`) ?? [])].sort((a, b) => (a.id < b.id ? -1 : 1));
    this.snapshots++;
    if (format === 'json') {
      const doc = {
        name: `${account.name} ${region}`,
        grid: 'standard',
        version: 4,
        nodes: components.map((c, i) => ({ id: c.id, type: c.type, region, mapPos: [i % 8, Math.floor(i / 8)] })),
        edges: [],
        groups: [],
        updatedAt: new Date(this.now()).toISOString(),
      };
      return { status: 200, body: this.snapshotWrapped ? { data: doc } : doc };
    }
    if (format === 'svg') {
      const rows = components.map((c, i) => `<rect x="${(i % 8) * 20}" y="${Math.floor(i / 8) * 20}" width="16" height="16"><title>${c.type} ${c.id}</title></rect>`);
      return { status: 200, raw: `<svg xmlns="http://www.w3.org/2000/svg" width="160" height="${20 * Math.ceil(Math.max(1, components.length) / 8)}">${rows.join('')}</svg>`, contentType: 'image/svg+xml' };
    }
    if (format === 'png') return { status: 200, raw: tinyPng(components.map(c => c.id).join(',')), contentType: 'image/png' };
    return { status: 200, raw: `%PDF-1.4 ${components.length} components`, contentType: format === 'pdf' ? 'application/pdf' : 'application/xml' };
  }

  /**
   * Blueprints: GET /blueprint (the list, without `data`), POST /blueprint ({"data": {...}, readAccess?, writeAccess?}:
   * 201 and an ETag), GET /blueprint/{id} (200 and an ETag), PUT /blueprint/{id} (204 and a new ETag; 412 when
   * If-Match names an earlier version), DELETE /blueprint/{id} (204), and exports GET /blueprint/{id}/{format}.
   */
  private blueprint(method: string, path: string, body: any, authorization: string | undefined, ifMatch?: string): Answer {
    const user = this.authorize(authorization);
    if ('status' in user) return user;
    const [, , id, format] = path.split('/').map(decodeURIComponent);
    const tag = (b: Blueprint): Record<string, string> => (this.options.blueprintEtags ?? true) ? { ETag: b.etag } : {};
    const at = new Date(this.now()).toISOString();
    if (id === undefined) {
      if (method === 'GET') return { status: 200, body: { blueprints: [...this.blueprints.values()].map(({ data: _d, etag: _e, ...b }) => b) } };
      if (method !== 'POST') return this.error(405, 'Method not allowed', 'invalid_parameter');
      if (!body || typeof body.data !== 'object' || body.data === null) return this.error(400, 'Missing data', 'invalid_property');
      const blueprint: Blueprint = {
        id: randomUUID(),
        name: typeof body.data.name === 'string' ? body.data.name : 'Untitled',
        data: body.data,
        readAccess: body.readAccess ?? null,
        writeAccess: body.writeAccess ?? null,
        CreatorId: user.id ?? 'user-1',
        LastUserId: user.id ?? 'user-1',
        createdAt: at,
        updatedAt: at,
        etag: this.nextEtag(),
      };
      this.blueprints.set(blueprint.id, blueprint);
      const { etag: _etag, ...shown } = blueprint;
      return { status: 201, body: shown, headers: tag(blueprint) };
    }
    const blueprint = this.blueprints.get(id);
    if (!blueprint) return this.error(404, 'Blueprint not found', 'not_found');
    if (format !== undefined) {
      if (method !== 'GET' || !['svg', 'png', 'pdf', 'mxGraph'].includes(format)) return this.error(400, `Invalid format parameter: ${format}`, 'invalid_parameter');
      const now = this.now();
      const recent = (this.exports.get(user.key) ?? []).filter(t => t > now - 60_000);
      if (recent.length >= BLUEPRINT_EXPORTS_PER_MINUTE) {
        this.rejected429++;
        return this.error(429, 'Too Many Requests', 'too_many_requests', { 'Retry-After': String(Math.ceil((recent[0] + 60_000 - now) / 1000)) });
      }
      this.exports.set(user.key, [...recent, now]);
      return format === 'png' ? { status: 200, raw: tinyPng(blueprint.etag), contentType: 'image/png' }
        : { status: 200, raw: `<svg xmlns="http://www.w3.org/2000/svg"><title>${blueprint.name}</title></svg>`, contentType: 'image/svg+xml' };
    }
    if (method === 'GET') {
      const { etag: _etag, ...shown } = blueprint;
      return { status: 200, body: shown, headers: tag(blueprint) };
    }
    if (method === 'DELETE') {
      this.blueprints.delete(id);
      return { status: 204 };
    }
    if (method !== 'PUT') return this.error(405, 'Method not allowed', 'invalid_parameter');
    if (ifMatch !== undefined && ifMatch !== blueprint.etag) return this.error(412, 'Precondition failed', 'precondition_failed');
    if (!body || typeof body.data !== 'object' || body.data === null) return this.error(400, 'Missing data', 'invalid_property');
    blueprint.data = body.data;
    if (typeof body.data.name === 'string') blueprint.name = body.data.name;
    if ('readAccess' in body) blueprint.readAccess = body.readAccess;
    if ('writeAccess' in body) blueprint.writeAccess = body.writeAccess;
    blueprint.LastUserId = user.id ?? 'user-1';
    blueprint.updatedAt = at;
    blueprint.etag = this.nextEtag();
    return { status: 204, headers: tag(blueprint) };
  }

  /** A person changes a blueprint in the app: a new version (and ETag) the library did not write. */
  editBlueprint(id: string, change: Record<string, unknown> = { edited: true }): void {
    const blueprint = this.blueprints.get(id);
    if (!blueprint) throw new Error(`no blueprint ${id}`);
    blueprint.data = { ...blueprint.data, ...change };
    blueprint.LastUserId = 'a-person';
    blueprint.updatedAt = new Date(this.now()).toISOString();
    blueprint.etag = this.nextEtag();
  }

  private nextEtag(): string {
    return `"v${++this.etags}"`;
  }

  private limit(key: string) {
    const limit = this.rateLimit!;
    const now = this.now();
    const window = (this.windows.get(key) ?? []).filter(t => t > now - limit.windowMs);
    if (window.length >= limit.requests) {
      if (limit.countRejected) window.push(now);
      this.windows.set(key, window);
      this.rejected429++;
      // When a request would be accepted again if no other came: once enough of the oldest requests leave the
      // window (more than one when rejected requests count too).
      const waitMs = window[window.length - limit.requests] + limit.windowMs - now;
      const headers: Record<string, string> = limit.retryAfter === 'seconds' ? { 'Retry-After': String(Math.ceil(waitMs / 1000)) }
        : limit.retryAfter === 'date' ? { 'Retry-After': new Date(this.httpDateBase() + waitMs * this.scale + 1000).toUTCString() } : {};
      return this.error(429, 'Too Many Requests', 'too_many_requests', headers);
    }
    window.push(now);
    this.windows.set(key, window);
    return undefined;
  }

  /** Wall time for HTTP dates: a client on a scaled clock reads them against Date.now(); a virtual one against its own time. */
  private httpDateBase(): number {
    return this.options.clock ? this.now() : Date.now();
  }

  private verify(user: EmulatorUser, roleArn: unknown, region: string) {
    if (typeof roleArn !== 'string' || !ARN_ROLE.test(roleArn)) return this.error(400, 'Invalid roleArn', 'invalid_parameter');
    const role = this.roles.get(roleArn);
    const assumable = role && (role.assumableAt === undefined || role.assumableAt <= this.now())
      && role.externalId === user.externalId && role.trustedAccount === CLOUDCRAFT_AWS_ACCOUNT
      && !(this.options.blockedRegions ?? []).includes(region);
    return assumable ? undefined : this.error(400, 'Unable to verify AWS account: could not assume the role', 'invalid_property');
  }

  private register(user: EmulatorUser, body: any) {
    if (!body || typeof body.name !== 'string' || body.name === '') return this.error(400, 'Missing name', 'invalid_property');
    const region = typeof body.region === 'string' ? body.region : 'us-east-1';
    const failure = this.verify(user, body.roleArn, region);
    if (failure) return failure;
    this.lastCreatedAt = Math.max(this.now(), this.lastCreatedAt + 1);
    const at = new Date(this.lastCreatedAt).toISOString();
    const account: Account = {
      id: randomUUID(),
      name: body.name,
      roleArn: body.roleArn,
      externalId: user.externalId,
      readAccess: body.readAccess ?? null,
      writeAccess: body.writeAccess ?? null,
      source: 'aws',
      createdAt: at,
      updatedAt: at,
      CreatorId: user.id ?? 'user-1',
      region,
    };
    this.accounts.set(account.id, account);
    return { status: 201, body: account };
  }

  private update(user: EmulatorUser, account: Account, body: any) {
    if (!body || typeof body.name !== 'string' || typeof body.roleArn !== 'string') return this.error(400, 'Missing name or roleArn', 'invalid_property');
    if (body.roleArn !== account.roleArn) {
      const failure = this.verify(user, body.roleArn, account.region);
      if (failure) return failure;
    }
    account.name = body.name;
    account.roleArn = body.roleArn;
    for (const field of ['readAccess', 'writeAccess'] as const) {
      if (field in body) account[field] = body[field];
      else if (this.putClearsOmittedAccess) account[field] = null;
    }
    account.updatedAt = new Date(this.now()).toISOString();
    return { status: 200, body: account };
  }
}

/**
 * A small valid PNG (16x16, one colour derived from `seed`): the emulator's rendered diagram, which a browser can
 * load. Built with Node's zlib (deflate and the CRC-32 the PNG specification names).
 */
export function tinyPng(seed: string): Buffer {
  const [r, g, b] = createHash('sha256').update(seed).digest();
  const size = 16;
  const row = Buffer.alloc(1 + size * 3);
  for (let x = 0; x < size; x++) row.set([r, g, b], 1 + x * 3);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', zlib.deflateSync(Buffer.concat(Array.from({ length: size }, () => row)))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length, 0);
  const typed = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(typed), 0);
  return Buffer.concat([length, typed, crc]);
}

/**
 * A Cloudcraft client of `key` talking to `emulator` in process on `clock`, paced by its own pacer unless `options`
 * say otherwise; a minute to its deadline by default.
 */
export function emulatorClient(emulator: CloudcraftEmulator, clock: Clock, key: string,
  options: Partial<CloudcraftClientOptions> = {}): CloudcraftClient {
  return new CloudcraftClient({
    apiUrl: IN_PROCESS_URL,
    apiKey: key,
    keySource: 'the test',
    clock,
    transport: emulator.transport(),
    pacing: localPacing(new Pacer(undefined, clock.now())),
    log: () => undefined,
    random: () => 0.5,
    deadlineAt: clock.now() + 60_000,
    ...options,
  });
}
