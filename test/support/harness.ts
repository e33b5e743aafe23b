/**
 * Runs handler code (a template's inline bundle) on real time and real sockets, as Lambda would, against the local
 * emulator and endpoints: builds CloudFormation events, gives a context with a deadline, captures every log line,
 * and collects the answer PUT to the ResponseURL. For `npm run bench` (wall-clock measurements); the jest suites
 * drive the handler on virtual time (virtual-harness.ts) or in a real Node 24 process (lifecycle.test.ts).
 */
import { randomUUID } from 'crypto';
import { CloudcraftEmulator, EmulatorOptions } from './cloudcraft-emulator';
import { LocalResponseUrl, LocalSecrets } from './local-aws';
import { API_URLS_VARIABLE } from '../../lib/registration/handler/contract';

export const API_KEY = 'Q2xvdWRjcmFmdFRlc3RLZXlGb3JUaGVFbXVsYXRvcjA='; // 44 characters, like a real key
export const EXTERNAL_ID = '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';
export const ROLE_ARN = 'arn:aws:iam::111122223333:role/cloudcraft';
export const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:111122223333:secret:cloudcraft/api-key-AbCdEf';
export const STACK_ID = 'arn:aws:cloudformation:us-east-1:111122223333:stack/CloudcraftExampleStack/1f2e3d4c';

export type Handler = (event: any, context: { getRemainingTimeInMillis(): number }) => Promise<void>;

export interface Invocation {
  /** The answers PUT for this request (exactly one is expected). */
  readonly answers: any[];
  readonly answer: any;
  /** Log lines written during the invocation. */
  readonly logs: string[];
  /** Milliseconds the invocation took. */
  readonly tookMs: number;
}

/** Sets the environment the handler's AWS SDK reads; call before loading the handler module. */
export function configureEnvironment(): void {
  process.env.AWS_ACCESS_KEY_ID = 'AKIDLOCALTEST';
  process.env.AWS_SECRET_ACCESS_KEY = 'local-test-secret';
  process.env.AWS_REGION = 'us-east-1';
  delete process.env.AWS_PROFILE;
}

export class Harness {
  static async start(options: EmulatorOptions = {}): Promise<Harness> {
    const emulator = await new CloudcraftEmulator({
      users: [{ key: API_KEY, id: 'user-owner', externalId: EXTERNAL_ID, role: 'owner', plan: 'pro' }],
      ...options,
    }).start();
    const secrets = await new LocalSecrets().start();
    const responses = await new LocalResponseUrl().start();
    secrets.secrets.set(SECRET_ARN, API_KEY);
    emulator.addRole(ROLE_ARN, { externalId: EXTERNAL_ID });
    process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = secrets.url;
    process.env.AWS_ENDPOINT_URL_SSM = secrets.url;
    process.env.AWS_ENDPOINT_URL_IAM = secrets.url;
    // The handler's list of the APIs it may call, as its stack would write it for resources that name the emulator.
    process.env[API_URLS_VARIABLE] = JSON.stringify([emulator.url]);
    return new Harness(emulator, secrets, responses);
  }

  /** Every log line of every invocation, for leak checks. */
  public readonly allLogs: string[] = [];

  private constructor(
    public readonly emulator: CloudcraftEmulator,
    public readonly secrets: LocalSecrets,
    public readonly responses: LocalResponseUrl,
  ) {}

  async stop(): Promise<void> {
    await Promise.all([this.emulator.stop(), this.secrets.stop(), this.responses.stop()]);
  }

  /** Registration properties as the construct writes them (all strings), with overrides. */
  registrationProps(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return registrationProps(this.emulator.url, overrides);
  }

  event(requestType: 'Create' | 'Update' | 'Delete', props: Record<string, unknown>, extra: Record<string, unknown> = {}): any {
    return cfnEvent(requestType, props, this.responses.url, extra);
  }

  /** Invokes the handler with a deadline `remainingMs` away. */
  async invoke(handler: Handler, event: any, remainingMs = 300_000): Promise<Invocation> {
    const deadline = Date.now() + remainingMs;
    const context = { getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) };
    const logs: string[] = [];
    const original = console.log;
    console.log = (...args: unknown[]) => {
      logs.push(args.map(String).join(' '));
    };
    const started = Date.now();
    try {
      await handler(event, context);
    } finally {
      console.log = original;
    }
    this.allLogs.push(...logs);
    const path = new URL(event.ResponseURL).pathname;
    const answers = this.responses.answersTo(path);
    return { answers, answer: answers[0], logs, tookMs: Date.now() - started };
  }
}

/** Registration properties as the construct writes them (all strings), with overrides. */
export function registrationProps(apiUrl: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ServiceToken: 'arn:aws:lambda:us-east-1:111122223333:function:CloudcraftHandler',
    ApiUrl: apiUrl,
    ApiKeySource: 'secretsmanager',
    ApiKeyId: SECRET_ARN,
    AccountName: 'production',
    RoleArn: ROLE_ARN,
    RemovalPolicy: 'destroy',
    RemoveAdopted: 'false',
    ExternalId: EXTERNAL_ID,
    ...overrides,
  };
}

/** A CloudFormation custom-resource event for the registration, answered at `<responseBase>/answer/<request ID>`. */
export function cfnEvent(requestType: 'Create' | 'Update' | 'Delete', props: Record<string, unknown>, responseBase: string,
  extra: Record<string, unknown> = {}): any {
  const requestId = randomUUID();
  return {
    RequestType: requestType,
    ServiceToken: props.ServiceToken,
    ResponseURL: `${responseBase}/answer/${requestId}`,
    StackId: STACK_ID,
    RequestId: requestId,
    LogicalResourceId: 'CloudcraftRegistration',
    ResourceType: 'Custom::CloudcraftRegistration',
    ResourceProperties: props,
    ...extra,
  };
}
