/**
 * Thin HTTP I/O: Cloudcraft API calls with a timeout, and the answer to CloudFormation, both with Node's own fetch.
 */
import { CallOutcome } from './decide';

export interface ApiCall {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly url: string;
  readonly apiKey: string;
  readonly body?: unknown;
  readonly timeoutMs: number;
  /** Aborted when the handler's deadline is reached. */
  readonly signal?: AbortSignal;
}

/** One Cloudcraft call. Never throws: network failures and timeouts are outcomes too. */
export async function callApi(call: ApiCall): Promise<CallOutcome> {
  const signals = [AbortSignal.timeout(Math.max(1, call.timeoutMs)), ...(call.signal ? [call.signal] : [])];
  try {
    const response = await fetch(call.url, {
      method: call.method,
      headers: {
        'Authorization': `Bearer ${call.apiKey}`,
        'Accept': 'application/json',
        ...(call.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        'User-Agent': 'cdk-cloudcraft',
      },
      body: call.body !== undefined ? JSON.stringify(call.body) : undefined,
      signal: AbortSignal.any(signals),
    });
    const text = await response.text();
    let body: unknown;
    try {
      body = text.trim() === '' ? null : JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { kind: 'response', status: response.status, retryAfter: response.headers.get('retry-after'), body, text };
  } catch (err) {
    return { kind: 'network', error: describeNetworkError(err) };
  }
}

function describeNetworkError(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return 'timed out';
  if (e?.name === 'AbortError') return 'aborted at the deadline';
  const code = e?.cause?.code;
  return code ? `${code}` : (e?.cause?.message ?? e?.message ?? String(err)).slice(0, 120);
}

/**
 * PUTs the answer to CloudFormation's pre-signed URL with an empty content type (the URL is signed without one;
 * fetch keeps an explicit empty header instead of adding text/plain). Resolves to the HTTP status; rejects on
 * network errors and timeouts.
 */
export async function putResponse(responseUrl: string, body: string, timeoutMs: number): Promise<number> {
  const response = await fetch(responseUrl, {
    method: 'PUT',
    headers: { 'content-type': '' },
    body,
    signal: AbortSignal.timeout(Math.max(1, timeoutMs)),
  });
  await response.arrayBuffer();
  return response.status;
}
