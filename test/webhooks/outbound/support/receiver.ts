import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  /** The request target as sent: path and query string. */
  target: string;
  method: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  at: number;
}

export type Responder = (req: Received, res: ServerResponse) => void;

/** A provider's backend on loopback: records every request; each path answers as its responder says (default 200). */
export class Receiver {
  readonly received: Received[] = [];
  private readonly responders = new Map<string, Responder>();
  private readonly hanging = new Set<ServerResponse>();
  private server: Server | undefined;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const target = req.url ?? '/';
        const got: Received = {
          path: target.split('?')[0] ?? '/',
          target,
          method: req.method ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks),
          at: Date.now(),
        };
        this.received.push(got);
        const responder = this.responders.get(got.path);
        if (responder) responder(got, res);
        else res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  on(path: string, responder: Responder): void {
    this.responders.set(path, responder);
  }

  /** The path never answers (until the receiver stops). */
  hang(path: string): void {
    this.on(path, (_req, res) => this.hanging.add(res));
  }

  at(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}
