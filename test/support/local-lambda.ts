/**
 * A local stand-in for Lambda's Invoke on 127.0.0.1, as @aws-sdk/client-lambda sends it (REST-JSON):
 * `POST /2015-03-31/functions/{FunctionName}/invocations` (the name or ARN URL-encoded in the path, `Qualifier` in
 * the query), the invocation type in `X-Amz-Invocation-Type` (RequestResponse when absent), the payload as the body.
 * It records each invocation and answers 202 for Event, 204 for DryRun, else 200 with `{}`. It runs nothing.
 *
 * Why the registrar invokes itself: a run longer than Lambda's 15 minutes continues in a new invocation
 * (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html, InvocationType Event).
 */
import * as http from 'http';
import { LocalServer } from './local-server';

export interface LambdaInvocation {
  readonly functionName: string;
  readonly invocationType: string;
  readonly qualifier?: string;
  /** The parsed JSON payload (the raw text if it is not JSON, undefined if empty). */
  readonly payload: any;
}

export class LocalLambda extends LocalServer {
  public readonly invocations: LambdaInvocation[] = [];

  protected handle(req: http.IncomingMessage, body: string, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(url.pathname);
    if (req.method !== 'POST' || !match) {
      res.writeHead(404, { 'content-type': 'application/json', 'x-amzn-errortype': 'UnknownOperationException' });
      res.end(JSON.stringify({ Type: 'User', message: `unexpected ${req.method} ${req.url}` }));
      return;
    }
    const invocationType = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
    this.invocations.push({
      functionName: decodeURIComponent(match[1]),
      invocationType,
      ...(url.searchParams.has('Qualifier') ? { qualifier: url.searchParams.get('Qualifier')! } : {}),
      payload: parse(body),
    });
    const status = invocationType === 'Event' ? 202 : invocationType === 'DryRun' ? 204 : 200;
    res.writeHead(status, { 'content-type': 'application/json', 'x-amz-executed-version': '$LATEST' });
    res.end(status === 200 ? '{}' : '');
  }
}

function parse(body: string): any {
  if (body === '') return undefined;
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}
