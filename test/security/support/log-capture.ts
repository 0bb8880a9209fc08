import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createLogger, type Logger } from '../../../src/lib/logger.js';

/** One JSON log line, with the HTTP request it was written for (when it was written before the answer ended). */
export interface CapturedLine {
  raw: string;
  entry: Record<string, unknown>;
  /** The request being handled when the line was written; undefined for background work. */
  during?: { requestId: string; method: string; path: string };
}

interface InFlight {
  req: IncomingMessage;
  res: ServerResponse;
}

/**
 * Every line of a debug-level pino logger, in memory. `attach(server)` runs each HTTP request in
 * an AsyncLocalStorage context, so a line can be traced to the request whose handling wrote it
 * (until that request's answer has ended; work after the answer counts as background).
 */
export class LogCapture {
  readonly lines: CapturedLine[] = [];
  readonly logger: Logger;
  private readonly requests = new AsyncLocalStorage<InFlight>();

  constructor(level = 'debug') {
    // A plain object with a synchronous write(): pino calls it inside the logging call, so the
    // request context is still the current one.
    this.logger = createLogger({ level }, { write: (raw: string) => this.record(raw) });
  }

  attach(server: Server): void {
    const listeners = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
    server.removeAllListeners('request');
    for (const listener of listeners) {
      server.on('request', (req: IncomingMessage, res: ServerResponse) => this.requests.run({ req, res }, () => listener.call(server, req, res)));
    }
  }

  /** Lines written from `from` (an index into `lines`) on. */
  since(from: number): CapturedLine[] {
    return this.lines.slice(from);
  }

  text(): string {
    return this.lines.map((l) => l.raw).join('');
  }

  private record(raw: string): void {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      entry = { unparsed: raw };
    }
    const line: CapturedLine = { raw, entry };
    const current = this.requests.getStore();
    if (current && !current.res.writableEnded) {
      line.during = {
        requestId: String(current.res.getHeader('x-request-id') ?? ''),
        method: current.req.method ?? '',
        path: (current.req.url ?? '').split('?')[0] ?? '',
      };
    }
    this.lines.push(line);
  }
}

/** Unhandled rejections and uncaught exceptions of this process while a test file runs. */
export function watchProcessErrors(): { errors: unknown[]; stop(): void } {
  const errors: unknown[] = [];
  const onError = (err: unknown) => errors.push(err);
  process.on('unhandledRejection', onError);
  process.on('uncaughtException', onError);
  return {
    errors,
    stop() {
      process.off('unhandledRejection', onError);
      process.off('uncaughtException', onError);
    },
  };
}
