/**
 * Runs the handler in process on virtual time: `createHandler` with a VirtualClock, the Cloudcraft emulator on the
 * same clock reached through its in-process transport, an in-memory key store and alias reader, a recorder of the
 * answers PUT to CloudFormation's ResponseURL, and a log sink. Nothing waits on the wall clock or a socket, so a
 * 15-minute deadline costs milliseconds and results do not depend on how busy the machine is. Each test makes its
 * own harness: no state is shared between tests.
 */
import { CloudcraftEmulator, EmulatorOptions, IN_PROCESS_URL } from './cloudcraft-emulator';
import { API_KEY, cfnEvent, EXTERNAL_ID, registrationProps, ROLE_ARN, SECRET_ARN, STACK_ID } from './harness';
import { VirtualClock } from './virtual-clock';
import { createHandler, HandlerDeps } from '../../lib/registration/handler';
import { StackResource } from '../../lib/registration/handler/decide';
import { ApiKeyRef } from '../../lib/runtime/api-key';
import { CloudcraftError } from '../../lib/runtime/cloudcraft';
import { HttpRequest, HttpResponse, Transport, TransportError } from '../../lib/runtime/http';

export { API_KEY, EXTERNAL_ID, ROLE_ARN, SECRET_ARN, STACK_ID };

export const RESPONSE_URL = 'https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com.test';
/** Lambda's maximum, the handler's timeout. */
export const FIFTEEN_MINUTES = 15 * 60_000;

export interface AnswerPut {
  readonly url: string;
  readonly contentType: string | undefined;
  readonly bytes: number;
  readonly body: any;
  /** Virtual time of the PUT. */
  readonly at: number;
}

export interface Invocation {
  /** The answers PUT for this request (exactly one is expected). */
  readonly answers: any[];
  readonly answer: any;
  /** Log lines written during the invocation. */
  readonly logs: string[];
  /** Virtual milliseconds the invocation took. */
  readonly tookMs: number;
  /** Virtual milliseconds from the start to the answer. */
  readonly answeredAfterMs: number;
}

/** Every substring of `secret` of `length` characters (the redactor hides runs of 8 or more). */
export function fragmentsOf(secret: string, length = 8): string[] {
  const out: string[] = [];
  for (let i = 0; i + length <= secret.length; i++) out.push(secret.slice(i, i + length));
  return out;
}

export class VirtualHarness {
  readonly clock = new VirtualClock();
  readonly emulator: CloudcraftEmulator;
  readonly secrets = new Map<string, string>([[SECRET_ARN, API_KEY]]);
  readonly parameters = new Map<string, string>();
  readonly denied = new Set<string>();
  readonly reads: ApiKeyRef[] = [];
  /** What ListStackResources answers for the stack (empty: no other resource holds anything). */
  stackResources: StackResource[] = [];
  /** ListStackResources fails (AccessDenied). */
  stackResourcesDenied = false;
  /** The stack IDs ListStackResources was asked for. */
  readonly stackResourceReads: string[] = [];
  aliases: string[] = [];
  aliasDenied = false;
  aliasReads = 0;
  /** Every answer PUT (to any request). */
  readonly answers: AnswerPut[] = [];
  /** What the next answer PUTs meet: 'fail' (500), 'forbidden' (403, as an expired URL) or 'hang' (no answer). */
  readonly answerFaults: Array<'fail' | 'forbidden' | 'hang'> = [];
  /** Every log line of every invocation. */
  readonly logs: string[] = [];
  /** Secrets that must appear in no log line and no answer (the key in use is added by default). */
  readonly mustNotLeak = new Set<string>([API_KEY]);
  /** Wraps the transport the handler gets (to inject transport-level faults). */
  wrapTransport?: (transport: Transport) => Transport;
  /** The API URLs the handler may call, as the construct would list them from its stack's resources. */
  readonly apiUrls = new Set<string>([IN_PROCESS_URL]);

  constructor(options: EmulatorOptions = {}) {
    this.emulator = new CloudcraftEmulator({
      users: [{ key: API_KEY, id: 'user-owner', externalId: EXTERNAL_ID, role: 'owner', plan: 'pro' }],
      clock: this.clock,
      ...options,
    });
    this.emulator.addRole(ROLE_ARN, { externalId: EXTERNAL_ID });
  }

  /** Registration properties as the construct writes them (all strings), with overrides. */
  registrationProps(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return registrationProps(IN_PROCESS_URL, overrides);
  }

  event(requestType: 'Create' | 'Update' | 'Delete', props: Record<string, unknown>, extra: Record<string, unknown> = {}): any {
    return cfnEvent(requestType, props, RESPONSE_URL, extra);
  }


  /** The handler, built as Lambda's would be but with every dependency in process; one per invocation. */
  handler(logs: string[], overrides: Partial<HandlerDeps> = {}) {
    return createHandler({
      clock: this.clock,
      apiUrls: this.apiUrls,
      transport: (this.wrapTransport ?? (t => t))(this.emulator.transport((request, signal) => this.answerTransport(request, signal))),
      readSecret: async (ref) => {
        this.reads.push(ref);
        if (this.denied.has(ref.id)) throw Object.assign(new Error('denied'), { name: 'AccessDeniedException' });
        const value = (ref.source === 'ssm' ? this.parameters : this.secrets).get(ref.id);
        if (value === undefined) throw Object.assign(new Error('not found'), { name: ref.source === 'ssm' ? 'ParameterNotFound' : 'ResourceNotFoundException' });
        return value;
      },
      readAlias: async () => {
        this.aliasReads++;
        if (this.aliasDenied) throw new CloudcraftError('Cannot read the account alias for the Cloudcraft account name (iam:ListAccountAliases): AccessDenied.');
        return this.aliases[0];
      },
      readStackResources: async (stackId) => {
        this.stackResourceReads.push(stackId);
        if (this.stackResourcesDenied) throw Object.assign(new Error('denied'), { name: 'AccessDenied' });
        return this.stackResources;
      },
      sink: line => {
        logs.push(line);
        this.logs.push(line);
      },
      random: () => 0.5,
      ...overrides,
    });
  }

  /** Invokes the handler on virtual time with a deadline `remainingMs` away. */
  async invoke(event: any, remainingMs = FIFTEEN_MINUTES, overrides: Partial<HandlerDeps> = {}): Promise<Invocation> {
    return (await this.invokeAll([event], remainingMs, overrides))[0];
  }

  /** Invokes the handler for several events at once (a twin delivery), on the same virtual time. */
  async invokeAll(events: any[], remainingMs = FIFTEEN_MINUTES, overrides: Partial<HandlerDeps> = {}): Promise<Invocation[]> {
    const started = this.clock.now();
    const deadline = started + remainingMs;
    const runs = events.map(event => {
      const logs: string[] = [];
      const handler = this.handler(logs, overrides);
      const context = { getRemainingTimeInMillis: () => Math.max(0, deadline - this.clock.now()) };
      return { event, logs, promise: handler(event, context).then(() => this.clock.now()) };
    });
    const ended = await this.clock.run(Promise.all(runs.map(r => r.promise)));
    return runs.map((r, i) => {
      const puts = this.answers.filter(a => a.url === r.event.ResponseURL);
      return {
        answers: puts.map(p => p.body),
        answer: puts[0]?.body,
        logs: r.logs,
        tookMs: ended[i] - started,
        answeredAfterMs: puts.length > 0 ? puts[0].at - started : Infinity,
      };
    });
  }

  /** What every test checks at its end: well-formed answers, and no secret anywhere. */
  checkInvariants(): void {
    for (const put of this.answers) {
      expect(put.contentType).toBe('');
      expect(put.bytes).toBeLessThan(4096);
      expect(put.body.Reason.length).toBeLessThanOrEqual(1000);
      expect(Object.keys(put.body)).toEqual(expect.arrayContaining(['Status', 'Reason', 'PhysicalResourceId', 'StackId', 'RequestId', 'LogicalResourceId']));
    }
    const everything = JSON.stringify({ answers: this.answers.map(a => a.body), logs: this.logs });
    for (const secret of this.mustNotLeak) {
      for (const fragment of fragmentsOf(secret)) {
        if (everything.includes(fragment)) throw new Error(`a fragment of a secret (${fragment.length} characters at ${secret.indexOf(fragment)}) leaked into a log line or an answer`);
      }
    }
  }

  /** CloudFormation's ResponseURL: records each answer PUT, or meets it with the next fault. */
  private async answerTransport(request: HttpRequest, signal: AbortSignal): Promise<HttpResponse> {
    const fault = this.answerFaults.shift();
    if (fault === 'hang') {
      return new Promise<HttpResponse>((_, reject) => {
        const fail = () => reject(new TransportError('timeout', 'no complete answer in time'));
        if (signal.aborted) fail();
        signal.addEventListener('abort', fail, { once: true });
      });
    }
    if (fault === 'fail') return { status: 500, headers: {}, text: 'try again' };
    if (fault === 'forbidden') return { status: 403, headers: {}, text: 'Request has expired' };
    this.answers.push({
      url: request.url,
      contentType: request.headers['content-type'],
      bytes: Buffer.byteLength(request.body ?? ''),
      body: JSON.parse(request.body ?? '{}'),
      at: this.clock.now(),
    });
    return { status: 200, headers: {}, text: '' };
  }
}
