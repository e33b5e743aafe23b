/**
 * The HTTP transport, injected: `fetchTransport` (Node's own fetch) in Lambda, an in-process one in tests. One
 * function for every HTTP call the Lambda code makes (Cloudcraft, and the answer to CloudFormation).
 */

export interface HttpRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
}

export interface HttpResponse {
  readonly status: number;
  /** Header values by lowercase name. */
  readonly headers: Record<string, string>;
  readonly text: string;
  /** The body as received (a rendered image is not text). */
  readonly bytes?: Uint8Array;
}

/**
 * - `network`: no answer (refused, reset, DNS, TLS): the request may or may not have reached the server;
 * - `timeout`: no complete answer in time: it may have been done;
 * - `too-large`: the answer was longer than the cap (read no further);
 * - `local`: the request could not be sent at all (an invalid header value, a bad URL): permanent, never retried.
 */
export type TransportErrorKind = 'network' | 'timeout' | 'too-large' | 'local';

export class TransportError extends Error {
  constructor(readonly kind: TransportErrorKind, message: string) {
    super(message);
    this.name = 'TransportError';
  }
}

/** Sends one request; resolves with any HTTP status, rejects with a `TransportError`. */
export type Transport = (request: HttpRequest, signal: AbortSignal) => Promise<HttpResponse>;

/** Longest answer body read from Cloudcraft or CloudFormation: far above any real answer (an account list of 10,000 accounts is about 5 MB). */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

/** Node's fetch, with the body read up to `maxBytes`. */
export function fetchTransport(maxBytes: number = MAX_BODY_BYTES): Transport {
  return async (request, signal) => {
    let response: Response;
    try {
      response = await fetch(request.url, { method: request.method, headers: request.headers, body: request.body, signal });
    } catch (err) {
      throw classify(err, signal);
    }
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      headers[name.toLowerCase()] = value;
    });
    try {
      const bytes = await readCapped(response, maxBytes);
      return { status: response.status, headers, text: bytes.toString('utf8'), bytes };
    } catch (err) {
      if (err instanceof TransportError) throw err;
      throw classify(err, signal);
    }
  };
}

async function readCapped(response: Response, maxBytes: number): Promise<Buffer> {
  if (!response.body) return Buffer.alloc(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new TransportError('too-large', `the answer was longer than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

function classify(err: unknown, signal: AbortSignal): TransportError {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (signal.aborted || e?.name === 'AbortError' || e?.name === 'TimeoutError') {
    return new TransportError('timeout', 'no complete answer in time');
  }
  if (e?.name === 'TypeError' && e.message !== 'fetch failed' && !e.cause) {
    // Raised before anything is sent: an invalid header value or URL. Its message may quote the header: not kept.
    return new TransportError('local', 'the request could not be sent (an invalid header value or URL)');
  }
  const code = e?.cause?.code;
  return new TransportError('network', code ? String(code) : String(e?.cause?.message ?? e?.message ?? err).slice(0, 120));
}
