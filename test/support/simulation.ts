/**
 * Onboarding an Organization, simulated: N member accounts, deployed by StackSets `concurrency` at a time, each
 * running the real inline handler code of the member template (its registration Create) against the Cloudcraft
 * emulator, which enforces a per-key rate limit. Time is scaled (the handler's CDK_CLOUDCRAFT_TIME_SCALE and the
 * emulator's), so simulated minutes take real seconds; all figures are in simulated time.
 *
 * Each account's stack first spends `stackOverheadMs` creating the role, log group and function (CloudFormation
 * and IAM work that makes no Cloudcraft call), then CloudFormation invokes the registration.
 */
import { randomUUID } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { CloudcraftEmulator, RateLimit } from './cloudcraft-emulator';
import { API_KEY, EXTERNAL_ID, SECRET_ARN } from './harness';
import { LocalResponseUrl, LocalSecrets } from './local-aws';

export interface SimulationOptions {
  readonly accounts: number;
  readonly concurrency: number;
  readonly rateLimit: RateLimit;
  readonly stackOverheadMs: number;
  readonly timeScale: number;
  /** The handler code (the member template's inline ZipFile). */
  readonly handlerCode: string;
  /** The function's timeout (the member template's), in ms. */
  readonly handlerTimeoutMs: number;
}

export interface SimulationResult {
  readonly accounts: number;
  readonly concurrency: number;
  readonly failures: number;
  readonly failureReasons: string[];
  readonly duplicates: number;
  readonly registered: number;
  readonly callsPerAccount: number;
  readonly acceptedCallsPerAccount: number;
  readonly rejected429: number;
  /**
   * Accepted Cloudcraft calls over the run as a fraction of the most the limit allows in that time: a window-based
   * limit of R requests per W lets at most R x (span / W + 1) calls through in a span, so 1.0 is the ceiling.
   */
  readonly throughputOfLimit: number;
  /** Simulated seconds from the first account to the last answer. */
  readonly simulatedSeconds: number;
  readonly slowestAccountSeconds: number;
}

/** Loads the handler code as a module (below the repository, so it finds the AWS SDK as the runtime provides it). */
export function loadHandler(code: string): (event: any, context: any) => Promise<void> {
  const dir = path.join(__dirname, '..', '..', '.cache', 'simulation', randomUUID());
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'index.js');
  fs.writeFileSync(file, code);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(file).handler;
}

export async function simulateOnboarding(options: SimulationOptions): Promise<SimulationResult> {
  process.env.CDK_CLOUDCRAFT_TIME_SCALE = String(options.timeScale);
  process.env.AWS_ACCESS_KEY_ID = 'AKIDLOCAL';
  process.env.AWS_SECRET_ACCESS_KEY = 'local';
  process.env.AWS_REGION = 'us-east-1';
  const handler = loadHandler(options.handlerCode);
  const emulator = await new CloudcraftEmulator({
    users: [{ key: API_KEY, id: 'owner', externalId: EXTERNAL_ID }], rateLimit: options.rateLimit, timeScale: options.timeScale,
  }).start();
  const secrets = await new LocalSecrets().start();
  const responses = await new LocalResponseUrl().start();
  secrets.secrets.set(SECRET_ARN, API_KEY);
  process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = secrets.url;
  const scale = options.timeScale;
  const now = () => Date.now() / scale;
  const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms * scale));

  const roleOf = (i: number) => `arn:aws:iam::${String(100000000000 + i)}:role/cloudcraft`;
  const failureReasons: string[] = [];
  let failures = 0;
  let slowest = 0;
  let next = 0;
  const start = now();
  const original = console.log;
  console.log = () => undefined; // 1,000 handlers log a lot; the figures are what matters here
  try {
    const worker = async () => {
      for (let i = next++; i < options.accounts; i = next++) {
        const began = now();
        await sleep(options.stackOverheadMs);
        emulator.addRole(roleOf(i), { externalId: EXTERNAL_ID });
        const requestId = randomUUID();
        const event = {
          RequestType: 'Create',
          ResponseURL: `${responses.url}/answer/${requestId}`,
          StackId: `stack-${i}`,
          RequestId: requestId,
          LogicalResourceId: 'Registration',
          ResourceType: 'Custom::CloudcraftRegistration',
          ResourceProperties: {
            ApiUrl: emulator.url,
            ApiKeySource: 'secretsmanager',
            ApiKeyId: SECRET_ARN,
            AccountName: `account-${i}`,
            RoleArn: roleOf(i),
            RemovalPolicy: 'destroy',
            RemoveAdopted: 'false',
          },
        };
        const deadline = now() + options.handlerTimeoutMs;
        await handler(event, { getRemainingTimeInMillis: () => Math.max(0, deadline - now()) });
        const answer = responses.answersTo(`/answer/${requestId}`)[0];
        if (answer?.Status !== 'SUCCESS') {
          failures++;
          failureReasons.push(answer?.Reason ?? 'no answer');
        }
        slowest = Math.max(slowest, now() - began);
      }
    };
    await Promise.all(Array.from({ length: options.concurrency }, worker));
  } finally {
    console.log = original;
    await Promise.all([emulator.stop(), secrets.stop(), responses.stop()]);
  }
  const end = now();

  const byRole = new Map<string, number>();
  for (const account of emulator.accounts.values()) byRole.set(account.roleArn, (byRole.get(account.roleArn) ?? 0) + 1);
  const duplicates = [...byRole.values()].reduce((sum, n) => sum + Math.max(0, n - 1), 0);
  const accepted = emulator.calls.filter(c => c.status !== 429);
  const first = Math.min(...accepted.map(c => c.at));
  const last = Math.max(...accepted.map(c => c.at));
  const limitPerMs = options.rateLimit.requests / options.rateLimit.windowMs;
  return {
    accounts: options.accounts,
    concurrency: options.concurrency,
    failures,
    failureReasons: [...new Set(failureReasons)].slice(0, 5),
    duplicates,
    registered: byRole.size,
    callsPerAccount: emulator.calls.length / options.accounts,
    acceptedCallsPerAccount: accepted.length / options.accounts,
    rejected429: emulator.rejected429,
    throughputOfLimit: accepted.length / ((last - first + options.rateLimit.windowMs) * limitPerMs),
    simulatedSeconds: (end - start) / 1000,
    slowestAccountSeconds: slowest / 1000,
  };
}
