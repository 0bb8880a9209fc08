import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LedgerPush } from '../../support/ledger.js';

export interface PushRelayOptions {
  /** Gateway base URLs; deliveries go round-robin, as through a load balancer. */
  targets: readonly string[];
  /** WeChat delivers a push again when it gets no `success`: up to 3 more times. */
  redeliveries?: number;
  redeliveryPauseMs?: number;
  /** WeChat waits 5 s for an answer. */
  timeoutMs?: number;
}

/**
 * Sits where WeChat's push client would be: the simulator pushes here, the relay delivers to the
 * gateway with WeChat's redeliveries, and records what the gateway finally answered. Unlike the
 * simulator's counters (the last 200 pushes) it keeps every push, for the ledger of a long run.
 */
export class PushRelay {
  readonly records: LedgerPush[] = [];
  private next = 0;

  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly options: PushRelayOptions,
  ) {}

  static async start(options: PushRelayOptions): Promise<PushRelay> {
    let relay: PushRelay | undefined;
    const server = createServer((req, res) => {
      void relay?.relay(req).then(
        ({ status, body }) => {
          res.writeHead(status, { 'content-type': 'text/plain' });
          res.end(body);
        },
        () => res.destroy(),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    relay = new PushRelay(server, `http://127.0.0.1:${port}`, options);
    return relay;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async relay(req: IncomingMessage): Promise<{ status: number; body: string }> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const payload = raw.toString('utf8');
    const path = req.url ?? '/';
    const match = /^\/webhooks\/wechat\/([^/]+)\/(auth|events\/([^/?]+))/.exec(path);
    const atMs = Date.now();
    const tries = 1 + (this.options.redeliveries ?? 3);
    let answer: { status: number | null; body: string | null; error: string | null; outcome?: string | null } = { status: null, body: null, error: null };
    let deliveries = 0;
    for (let i = 0; i < tries; i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, this.options.redeliveryPauseMs ?? 200));
      const target = this.options.targets[this.next++ % this.options.targets.length];
      deliveries++;
      try {
        const response = await fetch(`${target}${path}`, {
          method: req.method ?? 'POST',
          headers: { 'content-type': req.headers['content-type'] ?? 'text/xml' },
          ...(req.method === 'POST' ? { body: payload } : {}),
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000),
        });
        answer = { status: response.status, body: await response.text(), error: null, outcome: response.headers.get('x-wxlive-outcome') };
      } catch (error) {
        answer = { status: null, body: null, error: error instanceof Error ? error.message : String(error) };
      }
      if (answer.status === 200 && answer.body === 'success') break;
    }
    this.records.push({
      tenantId: match?.[1] ?? '',
      kind: match?.[2] === 'auth' ? 'auth' : 'event',
      appId: match?.[3] ?? null,
      status: answer.status,
      body: answer.body,
      atMs,
      deliveries,
      sent: { query: path.includes('?') ? path.slice(path.indexOf('?') + 1) : '', body: raw },
      outcome: answer.outcome ?? null,
    });
    return { status: answer.status ?? 502, body: answer.body ?? answer.error ?? '' };
  }
}
