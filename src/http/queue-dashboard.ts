import { timingSafeEqual } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import express from 'express';
import type { Route } from './router.js';

export const QUEUE_DASHBOARD_PATH = '/admin/queues';

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Bearer <token>, or HTTP Basic with the token as password (so a browser can prompt for it). */
export function adminAuthorized(header: string | undefined, adminToken: string): boolean {
  if (!header) return false;
  const [scheme, value = ''] = header.split(' ', 2);
  if (scheme?.toLowerCase() === 'bearer') return sameSecret(value, adminToken);
  if (scheme?.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    return sameSecret(decoded.slice(decoded.indexOf(':') + 1), adminToken);
  }
  return false;
}

/**
 * Bull Board for the live-apply queue at /admin/queues, behind ADMIN_TOKEN. Bull Board ships
 * framework adapters only; its Express adapter is mounted as a plain (req, res) handler.
 */
export function queueDashboardRoutes(queue: Queue, adminToken: string): Route[] {
  const adapter = new ExpressAdapter();
  adapter.setBasePath(QUEUE_DASHBOARD_PATH);
  createBullBoard({ queues: [new BullMQAdapter(queue, { readOnlyMode: false })], serverAdapter: adapter });
  // Bull Board's views use Express's response helpers, so it runs inside a small Express app.
  const app = express();
  app.disable('x-powered-by');
  app.use(QUEUE_DASHBOARD_PATH, adapter.getRouter());
  const handler: Route['handler'] = ({ req, res }) =>
    new Promise<void>((resolve) => {
      if (!adminAuthorized(req.headers.authorization, adminToken)) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="wxlive admin", charset="UTF-8"', 'content-type': 'text/plain' });
        res.end('ADMIN_TOKEN required (Bearer, or Basic with the token as password)');
        resolve();
        return;
      }
      res.once('finish', () => resolve());
      res.once('close', () => resolve());
      app(req as express.Request, res as express.Response);
    });
  return [
    { method: 'ALL', path: QUEUE_DASHBOARD_PATH, handler },
    { method: 'ALL', path: `${QUEUE_DASHBOARD_PATH}/*`, handler },
  ];
}
