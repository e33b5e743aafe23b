/**
 * The registration handler sends the API key only to the API its stack's resources name, fixed at synth in its
 * environment (CDK_CLOUDCRAFT_API_URLS): whoever may invoke the function can send it an event of their own, naming
 * any https host. Over real sockets, with Node's fetch: a second listener on this machine, named by such an event,
 * receives no request at all; the handler answers FAILED (SUCCESS for a Delete) with the reason. The control: the
 * same event naming the allowed API reaches it with the key.
 */
import * as http from 'http';
import { CloudcraftEmulator, CLOUDCRAFT_AWS_ACCOUNT } from './support/cloudcraft-emulator';
import { API_KEY, cfnEvent, registrationProps } from './support/harness';
import { LocalResponseUrl } from './support/local-aws';
import { LocalServer } from './support/local-server';
import { createHandler } from '../lib/registration/handler';
import { API_URLS_VARIABLE, DEFAULT_API_URL } from '../lib/registration/handler/contract';
import { allowedApiUrls } from '../lib/registration/handler/properties';
import { fetchTransport } from '../lib/runtime/http';

/** Any server: it records every request (and its Authorization header) and answers 200 with an empty account list. */
class Listener extends LocalServer {
  readonly requests: Array<{ method?: string; url?: string; authorization?: string }> = [];
  protected handle(req: http.IncomingMessage, _body: string, res: http.ServerResponse): void {
    this.requests.push({ method: req.method, url: req.url, authorization: req.headers.authorization });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"accounts":[],"accountId":"111122223333","externalId":"0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"}');
  }
}

let emulator: CloudcraftEmulator;
let listener: Listener;
let answers: LocalResponseUrl;
const logs: string[] = [];

beforeAll(async () => {
  emulator = await new CloudcraftEmulator({ users: [{ key: API_KEY, externalId: '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0' }] }).start();
  listener = await new Listener().start();
  answers = await new LocalResponseUrl().start();
});

afterAll(async () => {
  await Promise.all([emulator.stop(), listener.stop(), answers.stop()]);
});

/** The handler as deployed by a stack whose resources name the emulator's URL, with Node's own fetch. */
function handler(apiUrls: ReadonlySet<string> | 'from its environment' = new Set([emulator.url])) {
  return createHandler({
    transport: fetchTransport(),
    readSecret: async () => API_KEY,
    readAlias: async () => undefined,
    readStackResources: async () => [],
    sink: line => logs.push(line),
    apiUrls: apiUrls === 'from its environment' ? undefined : apiUrls,
  });
}

async function invoke(h: ReturnType<typeof handler>, event: any): Promise<any> {
  await h(event, { getRemainingTimeInMillis: () => 60_000 });
  return answers.answersTo(new URL(event.ResponseURL).pathname).at(-1);
}

const iamParameters = (apiUrl: string) => ({
  ...cfnEvent('Create', { ...registrationProps(apiUrl), AccountName: undefined, RoleArn: undefined }, answers.url),
  ResourceType: 'Custom::CloudcraftIamParameters',
});

test.each([
  ['a registration\'s Create', () => cfnEvent('Create', registrationProps(listener.url), answers.url), 'FAILED'],
  ['an Update', () => cfnEvent('Update', registrationProps(listener.url), answers.url, { PhysicalResourceId: 'abc', OldResourceProperties: registrationProps(emulator.url) }), 'FAILED'],
  ['the IAM parameters\' Create', () => iamParameters(listener.url), 'FAILED'],
  ['a Delete (never FAILED: nothing of it is reachable through this handler)', () => cfnEvent('Delete', registrationProps(listener.url), answers.url, { PhysicalResourceId: 'abc' }), 'SUCCESS'],
])('%s naming another host: no request reaches it, and the answer says why', async (_what, event, status) => {
  const before = { listener: listener.requests.length, emulator: emulator.calls.length };
  const answer = await invoke(handler(), event());
  expect(answer).toMatchObject({ Status: status, Reason: expect.stringMatching(new RegExp(`ApiUrl ${listener.url} is not an API this stack's handler may call \\(${emulator.url}, fixed at synth\\): no request was sent`)) });
  expect(listener.requests.length - before.listener).toBe(0);
  expect(emulator.calls.length - before.emulator).toBe(0);
});

test('control: the same event naming the allowed API reaches it, with the key', async () => {
  const answer = await invoke(handler(), iamParameters(emulator.url));
  expect(answer).toMatchObject({ Status: 'SUCCESS', Data: { AccountId: CLOUDCRAFT_AWS_ACCOUNT } });
  expect(emulator.calls.at(-1)).toMatchObject({ method: 'GET', path: '/aws/account/iamParameters', authorization: `Bearer ${API_KEY}` });
  expect(listener.requests).toEqual([]);
});

test('the allowed URLs come from the function\'s environment; without it, Cloudcraft\'s API alone', async () => {
  const saved = process.env[API_URLS_VARIABLE];
  try {
    process.env[API_URLS_VARIABLE] = JSON.stringify([`${emulator.url}/`]);
    expect((await invoke(handler('from its environment'), iamParameters(emulator.url))).Status).toBe('SUCCESS');
    expect((await invoke(handler('from its environment'), iamParameters(listener.url))).Status).toBe('FAILED');
    delete process.env[API_URLS_VARIABLE];
    expect((await invoke(handler('from its environment'), iamParameters(emulator.url))).Reason).toMatch(`(${DEFAULT_API_URL}, fixed at synth)`);
    expect(listener.requests).toEqual([]);
  } finally {
    if (saved === undefined) delete process.env[API_URLS_VARIABLE];
    else process.env[API_URLS_VARIABLE] = saved;
  }
  // Spellings of one URL are one URL; what is not a URL is left out.
  expect([...allowedApiUrls(JSON.stringify(['https://API.Cloudcraft.co:443/', 'not a url', 'ftp://x']))]).toEqual(['https://api.cloudcraft.co']);
});

test('the API key (or any 8-character fragment of it) is in no log line', () => {
  expect(logs.join('\n').length).toBeGreaterThan(200);
  for (let i = 0; i + 8 <= API_KEY.length; i++) expect(logs.join('\n')).not.toContain(API_KEY.slice(i, i + 8));
});
