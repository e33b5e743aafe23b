/**
 * Thin HTTP I/O: Cloudcraft API calls with a timeout, and the answer to CloudFormation. Node's own fetch, http
 * and https only.
 */
import * as http from 'node:http';
import * as https from 'node:https';
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
 * PUTs the answer to CloudFormation's pre-signed URL: empty content type (the URL is signed without one),
 * explicit length. Resolves to the HTTP status; rejects on network errors and timeouts.
 */
export function putResponse(responseUrl: string, body: string, timeoutMs: number): Promise<number> {
  const url = new URL(responseUrl);
  const client = url.protocol === 'http:' ? http : https;
  return new Promise((resolve, reject) => {
    const request = client.request(url, {
      method: 'PUT',
      headers: { 'content-type': '', 'content-length': Buffer.byteLength(body) },
      timeout: timeoutMs,
    }, response => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', reject);
    request.end(body);
  });
}
