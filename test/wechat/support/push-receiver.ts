import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedPush {
  path: string;
  query: URLSearchParams;
  body: string;
}

/** A stand-in for the gateway's webhook endpoints: records every POST and answers `success`. */
export async function startPushReceiver(): Promise<{ url: string; received: ReceivedPush[]; stop(): Promise<void> }> {
  const received: ReceivedPush[] = [];
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://receiver');
    received.push({ path: url.pathname, query: url.searchParams, body: await readBody(req) });
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('success');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
