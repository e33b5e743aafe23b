/**
 * Local stand-ins for what the diagram work writes to, on 127.0.0.1, for the real AWS SDK v3 pointed at them with
 * AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL_EVENTBRIDGE:
 * - S3 (REST, path style: an IP endpoint makes the SDK use it): PutObject with its content type, user metadata
 *   (x-amz-meta-*) and tags (x-amz-tagging), GetObject, NoSuchKey; bodies kept byte for byte;
 * - EventBridge (AWS JSON 1.1): PutEvents, which can be made to fail entries (answered 200 with FailedEntryCount,
 *   as EventBridge does).
 */
import * as http from 'http';
import { LocalServer } from './local-server';

export interface StoredObject {
  readonly body: Buffer;
  readonly contentType?: string;
  readonly metadata: Record<string, string>;
  readonly tags: Record<string, string>;
}

export class LocalS3 extends LocalServer {
  /** Objects by "bucket/key". */
  public readonly objects = new Map<string, StoredObject>();
  public puts = 0;

  protected handle(req: http.IncomingMessage, _text: string, res: http.ServerResponse, body: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://local');
    const [, bucket, ...rest] = url.pathname.split('/');
    const key = rest.map(decodeURIComponent).join('/');
    const id = `${bucket}/${key}`;
    if (req.method === 'PUT' && key) {
      this.puts++;
      const metadata: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (name.startsWith('x-amz-meta-') && typeof value === 'string') metadata[name.slice('x-amz-meta-'.length)] = value;
      }
      const tagging = req.headers['x-amz-tagging'];
      const tags = typeof tagging === 'string' ? Object.fromEntries(new URLSearchParams(tagging)) : {};
      this.objects.set(id, { body, contentType: req.headers['content-type'], metadata, tags });
      res.writeHead(200, { ETag: '"etag"' });
      res.end();
      return;
    }
    if (req.method === 'GET' && key) {
      const object = this.objects.get(id);
      if (!object) {
        res.writeHead(404, { 'content-type': 'application/xml' });
        res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>${key}</Key></Error>`);
        return;
      }
      res.writeHead(200, { 'content-type': object.contentType ?? 'application/octet-stream', 'content-length': String(object.body.length) });
      res.end(object.body);
      return;
    }
    res.writeHead(400, { 'content-type': 'application/xml' });
    res.end('<Error><Code>NotImplemented</Code><Message>not in this stand-in</Message></Error>');
  }
}

export interface PutEvent {
  readonly Source?: string;
  readonly DetailType?: string;
  readonly Detail?: string;
  readonly EventBusName?: string;
}

export class LocalEventBridge extends LocalServer {
  public readonly events: PutEvent[] = [];
  /** Entries to fail (answered with FailedEntryCount), as EventBridge does when it cannot put them. */
  public failNext = 0;

  protected handle(req: http.IncomingMessage, body: string, res: http.ServerResponse): void {
    if (req.headers['x-amz-target'] !== 'AWSEvents.PutEvents') {
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify({ __type: 'UnknownOperationException' }));
      return;
    }
    const entries = (JSON.parse(body).Entries ?? []) as PutEvent[];
    const results = entries.map(entry => {
      if (this.failNext > 0) {
        this.failNext--;
        return { ErrorCode: 'InternalFailure', ErrorMessage: 'try again' };
      }
      this.events.push(entry);
      return { EventId: `event-${this.events.length}` };
    });
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
    res.end(JSON.stringify({ FailedEntryCount: results.filter(r => 'ErrorCode' in r).length, Entries: results }));
  }
}
