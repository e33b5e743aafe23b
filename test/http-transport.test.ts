/**
 * The real transport (Node's fetch, lib/runtime/http.ts) against a tiny local HTTP server: bodies are read with a
 * size cap (a huge or endless answer fails that call), a request that cannot be sent is a `local` error whose message
 * does not quote the header, and the other failures are told apart. Real sockets, but nothing waits on time.
 */
import * as http from 'http';
import { AddressInfo } from 'net';
import { fetchTransport, TransportError } from '../lib/runtime/http';

let server: http.Server;
/** Bytes that are not UTF-8 (a PNG's signature and a lone 0xff): decoding them as text would change them. */
const BINARY = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0xff, 0x00, 0xfe]);
let base: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/big') {
      res.writeHead(200, { 'content-type': 'application/json', 'retry-after': '3' });
      res.end('x'.repeat(64 * 1024));
    } else if (req.url === '/endless') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const write = () => {
        if (res.destroyed || res.writableEnded) return;
        res.write('y'.repeat(16 * 1024), () => setImmediate(write));
      };
      write();
    } else if (req.url === '/binary') {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(BINARY);
    } else if (req.url === '/hang') {
      // never answers
    } else {
      res.writeHead(201, { 'content-type': 'application/json', 'X-Mixed-Case': 'v' });
      res.end(JSON.stringify({ method: req.method, authorization: req.headers.authorization }));
    }
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise(resolve => server.close(resolve));
});

const signal = () => new AbortController().signal;
async function failure(promise: Promise<unknown>): Promise<TransportError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(TransportError);
    return err as TransportError;
  }
  throw new Error('expected a TransportError');
}

test('an ordinary answer: status, lowercase headers, text', async () => {
  const response = await fetchTransport()({ method: 'POST', url: `${base}/ok`, headers: { Authorization: 'Bearer k' }, body: '{}' }, signal());
  expect(response.status).toBe(201);
  expect(response.headers['x-mixed-case']).toBe('v');
  expect(JSON.parse(response.text)).toEqual({ method: 'POST', authorization: 'Bearer k' });
});

test('a body that is not text (a rendered PNG) comes as received, byte for byte', async () => {
  const response = await fetchTransport()({ method: 'GET', url: `${base}/binary`, headers: {} }, signal());
  expect(Buffer.from(response.bytes!)).toEqual(BINARY);
  expect(Buffer.from(response.text, 'utf8')).not.toEqual(BINARY);
});

test('a body over the cap fails the call as too-large', async () => {
  const err = await failure(fetchTransport(1024)({ method: 'GET', url: `${base}/big`, headers: {} }, signal()));
  expect(err.kind).toBe('too-large');
  expect(err.message).toMatch(/longer than 1024 bytes/);
  // Under the cap it is read whole.
  expect((await fetchTransport(128 * 1024)({ method: 'GET', url: `${base}/big`, headers: {} }, signal())).text).toHaveLength(64 * 1024);
});

test('an endless body fails the call as too-large (it is not read to the end)', async () => {
  const err = await failure(fetchTransport(256 * 1024)({ method: 'GET', url: `${base}/endless`, headers: {} }, signal()));
  expect(err.kind).toBe('too-large');
});

test('a header value no HTTP request can carry is a local error, and its message does not quote the header', async () => {
  const key = 'Q2xvdWRjcmFmdFRlc3RLZXlG\nb3JUaGVFbXVsYXRvcjA=';
  const err = await failure(fetchTransport()({ method: 'GET', url: `${base}/ok`, headers: { Authorization: `Bearer ${key}` } }, signal()));
  expect(err.kind).toBe('local');
  expect(err.message).not.toContain('Q2xvdWRj');
  expect(err.message).not.toContain('Bearer');
});

test('a refused connection is a network error; an aborted one a timeout', async () => {
  const closed = http.createServer();
  await new Promise<void>(resolve => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise(resolve => closed.close(resolve));
  expect((await failure(fetchTransport()({ method: 'GET', url: `http://127.0.0.1:${port}/`, headers: {} }, signal()))).kind).toBe('network');

  const controller = new AbortController();
  const pending = fetchTransport()({ method: 'GET', url: `${base}/hang`, headers: {} }, controller.signal);
  setImmediate(() => controller.abort());
  expect((await failure(pending)).kind).toBe('timeout');
});
