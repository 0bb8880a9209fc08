import { count } from 'drizzle-orm';
import { type App, createApp } from '../../../src/app/create-app.js';
import { webhookInbox } from '../../../src/db/tables.js';
import { ManualClock } from '../../../src/lib/clock.js';
import type { CreateTenantInput } from '../../../src/services/tenants.service.js';
import { buildAuthXml } from '../../../src/wechat/wire/push-xml.js';
import { tenantInput } from '../../support/fixtures.js';
import type { TestEnv } from '../../support/test-env.js';
import { type SignedPush, type SignOptions, signedPush, type TenantKeys } from '../../webhooks/webhook-harness.js';
import { LogCapture } from './log-capture.js';

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

export interface GraphqlAnswer<T = Record<string, unknown>> extends Answer {
  body: { data?: T | null; errors?: { message: string; extensions?: { code?: string } }[] };
}

/**
 * The real gateway (`createApp`: router, GraphQL, graphql-ws, webhooks, worker) on the test's
 * Postgres and Redis, logging at debug level into memory. Every answer it gives through these
 * helpers is kept in `answers`, so tests can scan what a client ever saw.
 */
export interface RealApp {
  app: App;
  url: string;
  logs: LogCapture;
  answers: Answer[];
  fetch(path: string, init?: RequestInit): Promise<Answer>;
  graphql<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    key?: string | null,
    headers?: Record<string, string>,
  ): Promise<GraphqlAnswer<T>>;
  /** A tenant made through the services, with its secrets known to the test. */
  tenant(overrides?: Partial<CreateTenantInput>): Promise<{ id: string; apiKey: string; input: CreateTenantInput; keys: TenantKeys }>;
  stop(): Promise<void>;
}

export async function startRealApp(env: TestEnv, overrides: Record<string, string> = {}): Promise<RealApp> {
  const logs = new LogCapture('debug');
  const app = await createApp(env.config({ LOG_LEVEL: 'debug', ...overrides }), { logger: logs.logger, migrate: false });
  if (!app.server || !app.url) throw new Error('the app has no API role');
  logs.attach(app.server);
  const url = app.url;
  const answers: Answer[] = [];

  const fetchAnswer = async (path: string, init: RequestInit = {}): Promise<Answer> => {
    const response = await fetch(`${url}${path}`, { ...init, signal: init.signal ?? AbortSignal.timeout(20_000) });
    const answer = { status: response.status, headers: response.headers, text: await response.text() };
    answers.push(answer);
    return answer;
  };

  return {
    app,
    url,
    logs,
    answers,
    fetch: fetchAnswer,
    async graphql<T>(query: string, variables?: Record<string, unknown>, key?: string | null, headers: Record<string, string> = {}) {
      const answer = await fetchAnswer('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
        body: JSON.stringify({ query, variables }),
      });
      return { ...answer, body: JSON.parse(answer.text) as GraphqlAnswer<T>['body'] };
    },
    async tenant(tenantOverrides = {}) {
      const input = tenantInput(tenantOverrides);
      const { tenant, apiKey } = await app.services.tenants.create(input);
      return { id: tenant.id, apiKey: apiKey.key, input, keys: input };
    },
    stop: () => app.stop(),
  };
}

/** A push signed and encrypted as WeChat would, timestamped by the wall clock (the real app's). */
export function wechatPush(keys: TenantKeys, xml: string, options: SignOptions = {}): SignedPush {
  return signedPush(keys, xml, new ManualClock(Date.now()), options);
}

export function ticketXml(componentAppId: string, ticket = `ticket@@@${Math.random().toString(36).slice(2)}`): string {
  return buildAuthXml({ kind: 'component_verify_ticket', appId: componentAppId, createTime: String(Math.floor(Date.now() / 1000)), ticket });
}

export function authPath(tenantId: string): string {
  return `/webhooks/wechat/${tenantId}/auth`;
}

export function eventsPath(tenantId: string, appId: string): string {
  return `/webhooks/wechat/${tenantId}/events/${appId}`;
}

export function postPush(real: RealApp, path: string, push: SignedPush, headers: Record<string, string> = {}): Promise<Answer> {
  return real.fetch(`${path}?${push.query.toString()}`, { method: 'POST', headers: { 'content-type': 'text/xml', ...headers }, body: push.body });
}

/** Rows in this test file's webhook inbox: what a rejected push must leave unchanged. */
export async function inboxRowCount(env: TestEnv): Promise<number> {
  const [row] = await env.database.db.select({ n: count() }).from(webhookInbox);
  return row?.n ?? 0;
}

/** Replay marks this test file's pushes left in Redis. */
export async function replayMarkCount(env: TestEnv): Promise<number> {
  return (await env.redis.keys(`${env.redisPrefix}:*webhook:seen:*`)).length;
}
