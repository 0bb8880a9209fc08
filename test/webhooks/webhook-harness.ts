import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { count, eq } from 'drizzle-orm';
import type { Redis } from 'ioredis';
import { createServices, type Services } from '../../src/app/services.js';
import type { Database } from '../../src/db/client.js';
import { webhookInbox } from '../../src/db/tables.js';
import { RedisChangePublisher } from '../../src/events/change-feed.js';
import { createRouter } from '../../src/http/router.js';
import { ManualClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import type { ApplicationQueue } from '../../src/services/ports.js';
import { MsgCrypt, plainSignature } from '../../src/wechat/wire/msg-crypt.js';
import type { ExchangeAuthorizationCode } from '../../src/webhooks/push-processor.js';
import type { OutcomeReason, WebhookOutcome } from '../../src/webhooks/webhook-outcome.js';
import { createWebhooks, type Webhooks, type WebhooksDeps } from '../../src/webhooks/webhooks.module.js';
import { buildEnvelope } from '../../src/wechat/wire/push-xml.js';
import type { TestEnv } from '../support/test-env.js';

export interface TenantKeys {
  token: string;
  encodingAesKey: string;
  componentAppId: string;
}

/** What a test needs to see of the queue: the jobs an `unauthorized` push removed. */
export class RecordingQueue implements ApplicationQueue {
  readonly removed: string[] = [];
  async enqueue(): Promise<void> {}
  async remove(applicationId: string): Promise<boolean> {
    this.removed.push(applicationId);
    return true;
  }
  async scheduleExpiry(): Promise<void> {}
}

export interface WebhookServer {
  baseUrl: string;
  webhooks: Webhooks;
  services: Services;
  clock: ManualClock;
  queue: RecordingQueue;
  outcomes: [WebhookOutcome, OutcomeReason][];
  close(): Promise<void>;
}

export interface StartOptions extends Partial<Omit<WebhooksDeps, 'db' | 'redis' | 'redisPrefix' | 'services' | 'clock' | 'logger'>> {
  /** The database the inbox writes to (default the test's own); services always use the test's own. */
  inboxDatabase?: Database;
  /** The database the services (tenant lookup, effects) use; default the test's own. */
  servicesDatabase?: Database;
  /** The Redis of the replay cache; default the test's own. */
  redis?: Redis;
  clock?: ManualClock;
}

export const fakeExchange: ExchangeAuthorizationCode = async (_tenantId, code) => ({
  appId: code.split(':')[1] ?? 'wx0000000000000000',
  refreshToken: `refresh-for-${code}`,
  permissionSets: [1, 52],
});

/** The gateway's webhook routes behind a real node:http server on a random port. */
export async function startWebhookServer(env: TestEnv, options: StartOptions = {}): Promise<WebhookServer> {
  const clock = options.clock ?? new ManualClock(Date.now());
  const queue = new RecordingQueue();
  const feed = new RedisChangePublisher(env.redis, env.redisPrefix);
  const services = createServices({
    db: (options.servicesDatabase ?? env.appDatabase).db,
    box: env.box,
    clock,
    logger: silentLogger,
    queue,
    publisher: {
      async publish(changes) {
        await feed.publish(changes);
      },
    },
  });
  const outcomes: [WebhookOutcome, OutcomeReason][] = [];
  const { inboxDatabase, servicesDatabase: _services, redis, clock: _clock, ...rest } = options;
  const webhooks = createWebhooks({
    exchangeAuthorizationCode: fakeExchange,
    queue,
    ...rest,
    db: (inboxDatabase ?? env.appDatabase).db,
    redis: redis ?? env.redis,
    redisPrefix: env.redisPrefix,
    services,
    clock,
    logger: silentLogger,
    onOutcome: (outcome, reason) => outcomes.push([outcome, reason]),
  });
  const server: Server = createServer(createRouter(webhooks.routes, silentLogger));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    webhooks,
    services,
    clock,
    queue,
    outcomes,
    async close() {
      await webhooks.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface SignedPush {
  query: URLSearchParams;
  body: string;
}

export interface SignOptions {
  timestamp?: string;
  nonce?: string;
  /** The receive id inside the ciphertext; default the tenant's component app id. */
  receiveId?: string;
  /** The envelope's head: `{appId}` on the auth URL, `{toUserName}` on the message URL. */
  head?: { appId: string } | { toUserName: string };
}

export function nowSeconds(clock: ManualClock): string {
  return String(Math.floor(clock.now() / 1000));
}

/** Encrypts and signs a message exactly as WeChat does (msg_signature over the Encrypt, plus `signature`). */
export function signedPush(keys: TenantKeys, xml: string, clock: ManualClock, options: SignOptions = {}): SignedPush {
  const timestamp = options.timestamp ?? nowSeconds(clock);
  const nonce = options.nonce ?? String(randomBytes(4).readUInt32BE());
  const crypt = new MsgCrypt({ token: keys.token, encodingAesKey: keys.encodingAesKey, appId: options.receiveId ?? keys.componentAppId });
  const { encrypt, msgSignature } = crypt.encryptAndSign(xml, timestamp, nonce);
  const query = new URLSearchParams({
    signature: plainSignature(keys.token, timestamp, nonce),
    timestamp,
    nonce,
    encrypt_type: 'aes',
    msg_signature: msgSignature,
  });
  return { query, body: buildEnvelope({ encrypt, ...(options.head ?? { appId: keys.componentAppId }) }) };
}

export function authUrl(server: WebhookServer, tenantId: string): string {
  return `${server.baseUrl}/webhooks/wechat/${tenantId}/auth`;
}

export function eventsUrl(server: WebhookServer, tenantId: string, appId: string): string {
  return `${server.baseUrl}/webhooks/wechat/${tenantId}/events/${appId}`;
}

export async function post(url: string, push: SignedPush): Promise<{ status: number; text: string }> {
  const { status, text } = await postWithOutcome(url, push);
  return { status, text };
}

/** As post, with the gateway's x-wxlive-outcome header (accepted, duplicate, replayed on a `success`). */
export async function postWithOutcome(url: string, push: SignedPush): Promise<{ status: number; text: string; outcome: string | null }> {
  const response = await fetch(`${url}?${push.query.toString()}`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: push.body });
  return { status: response.status, text: await response.text(), outcome: response.headers.get('x-wxlive-outcome') };
}

export async function inboxCount(db: Database, tenantId: string): Promise<number> {
  const [row] = await db.db.select({ n: count() }).from(webhookInbox).where(eq(webhookInbox.tenantId, tenantId));
  return row?.n ?? 0;
}

export async function inboxRows(db: Database, tenantId: string) {
  return db.db.select().from(webhookInbox).where(eq(webhookInbox.tenantId, tenantId)).orderBy(webhookInbox.id);
}
