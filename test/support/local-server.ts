/**
 * The base of every local AWS stand-in: an HTTP server on 127.0.0.1 (port 0), for the real AWS SDK v3 pointed at it.
 */
import * as http from 'http';
import { AddressInfo } from 'net';

/** An HTTP server on 127.0.0.1 port 0 that reads each request's body, then hands it to `handle` (as text, and as received). */
export abstract class LocalServer {
  private server?: http.Server;

  get url(): string {
    return `http://127.0.0.1:${(this.server?.address() as AddressInfo).port}`;
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', chunk => chunks.push(chunk));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        this.handle(req, raw.toString('utf8'), res, raw);
      });
    });
    await new Promise<void>(resolve => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections(); // the SDK keeps sockets alive
    await new Promise<void>(resolve => server.close(() => resolve()));
  }

  protected abstract handle(req: http.IncomingMessage, body: string, res: http.ServerResponse, raw: Buffer): void;
}
