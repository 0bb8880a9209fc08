import 'reflect-metadata';
import { asc, eq } from 'drizzle-orm';
import { type App, createApp } from '../../../src/app/create-app.js';
import { liveApplications } from '../../../src/db/tables.js';
import type { Clock } from '../../../src/lib/clock.js';
import { createLogger } from '../../../src/lib/logger.js';
import { systemContext } from '../../../src/services/context.js';
import { SimulatorAdmin } from '../../../src/wechat/simulator/admin-client.js';
import { type RunningSimulator, startSimulator } from '../../../src/wechat/simulator/server.js';
import type { SimScenario } from '../../../src/wechat/simulator/types.js';
import { randomAppId, tenantInput } from '../../support/fixtures.js';
import { type AcceptedApplication, checkLedger, expectLedgerBalanced, type LedgerReport, type LedgerRules, type LedgerSources } from '../../support/ledger.js';
import { createTestEnv, type TestEnv } from '../../support/test-env.js';
import { GatewayClient } from './gateway-client.js';
import { type GatewayProcess, spawnGateway } from './gateway-process.js';
import { PushRelay } from './push-relay.js';
import { RedisProcess } from './redis-process.js';
import { TcpProxy } from './tcp-proxy.js';

export interface FaultWorldOptions {
  /** Environment overrides for the gateway (WECHAT_TIMEOUT_MS, APPLY_BACKOFF_MS...). */
  env?: Record<string, string>;
  /** 'all': API and worker in this process; 'api': the worker runs as processes (`startWorker`). */
  role?: 'all' | 'api';
  /** A redis-server of the test's own instead of the shared one (for restarts). */
  ownRedis?: boolean;
  /** Postgres reached through a TCP proxy the test can take down. */
  proxyPostgres?: boolean;
  /** The simulator reached through a TCP proxy the test can take down. */
  proxyWechat?: boolean;
  /** The gateway's clock (the simulator keeps the system clock). */
  clock?: Clock;
}

export interface WorldTenant {
  tenantId: string;
  componentAppId: string;
  appIds: string[];
  client: GatewayClient;
  /** What the tenant was created with (its token and EncodingAESKey open its pushes). */
  input: ReturnType<typeof tenantInput>;
}

export interface TenantOptions {
  merchants: number;
  dailyQuotaPerApp?: number;
  scenario?: SimScenario;
  /** After an accepted apply, WeChat pushes the open event this long after; null: never. */
  openAfterMs?: number | null;
}

/** The system clock plus an offset a test moves forward (the sweeper's backoff, without waiting). */
export class OffsetClock implements Clock {
  private offsetMs = 0;
  now(): number {
    return Date.now() + this.offsetMs;
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

/** Short crash-recovery timings so a fault heals within seconds (production: 30 s and 60 s). */
export const FAST_RECOVERY: Record<string, string> = {
  JOBS_LOCK_DURATION_MS: '1500',
  JOBS_STALLED_INTERVAL_MS: '500',
  JOBS_RECONCILE_INTERVAL_MS: '1000',
  APPLY_BACKOFF_MS: '200',
  WORKER_CONCURRENCY: '8',
};

/**
 * One fault test's world, on the real Postgres and Redis: its own database and Redis prefix
 * (or redis-server), the WeChat simulator over HTTP pushing through a relay that redelivers as
 * WeChat does, the gateway from its composition root, and proxies a test can cut.
 */
export class FaultWorld {
  readonly tenants: WorldTenant[] = [];
  private readonly workers: GatewayProcess[] = [];

  private constructor(
    readonly env: TestEnv,
    readonly sim: RunningSimulator,
    readonly admin: SimulatorAdmin,
    readonly app: App,
    readonly relay: PushRelay,
    readonly redis: RedisProcess | undefined,
    readonly pgProxy: TcpProxy | undefined,
    readonly wechatProxy: TcpProxy | undefined,
    private readonly gatewayEnv: Record<string, string>,
  ) {}

  static async start(options: FaultWorldOptions = {}): Promise<FaultWorld> {
    const env = await createTestEnv();
    const sim = await startSimulator({ port: 0 });
    const redis = options.ownRedis ? await RedisProcess.start() : undefined;
    const pgUrl = new URL(env.databaseUrl);
    const pgProxy = options.proxyPostgres ? await TcpProxy.start({ host: pgUrl.hostname, port: Number(pgUrl.port || 5432) }) : undefined;
    const wechatProxy = options.proxyWechat ? await TcpProxy.start({ host: '127.0.0.1', port: sim.port }) : undefined;
    if (pgProxy) pgUrl.host = pgProxy.address;
    const gatewayEnv: Record<string, string> = {
      DATABASE_URL: pgUrl.toString(),
      REDIS_URL: redis?.url ?? env.redisUrl,
      REDIS_PREFIX: env.redisPrefix,
      SECRET_KEY: env.secretKey.toString('base64'),
      WECHAT_API_BASE: wechatProxy ? `http://${wechatProxy.address}` : sim.url,
      ...FAST_RECOVERY,
      ...options.env,
    };
    const logLevel = process.env.FAULT_LOG ?? 'silent';
    const app = await createApp(env.config({ ...gatewayEnv, ROLE: options.role ?? 'all', LOG_LEVEL: logLevel }), {
      logger: createLogger({ level: logLevel, name: 'fault-gateway' }),
      ...(options.clock ? { clock: options.clock } : {}),
    });
    const relay = await PushRelay.start({ targets: [app.url as string] });
    return new FaultWorld(env, sim, new SimulatorAdmin(sim.url), app, relay, redis, pgProxy, wechatProxy, gatewayEnv);
  }

  /**
   * A provider with `merchants` authorized merchants, known to the simulator the way WeChat knows
   * it: its URLs point at the gateway, its component_verify_ticket was pushed and stored.
   */
  async tenant(options: TenantOptions): Promise<WorldTenant> {
    const input = tenantInput(options.dailyQuotaPerApp === undefined ? {} : { dailyQuotaPerApp: options.dailyQuotaPerApp });
    const { tenant, apiKey } = await this.app.services.tenants.create(input);
    await this.admin.registerComponent({
      componentAppId: input.componentAppId,
      componentAppSecret: input.componentAppSecret,
      token: input.token,
      encodingAesKey: input.encodingAesKey,
      authUrl: `${this.relay.url}/webhooks/wechat/${tenant.id}/auth`,
      messageUrlTemplate: `${this.relay.url}/webhooks/wechat/${tenant.id}/events/$APPID$`,
    });
    const ticket = await this.admin.issueTicket({ componentAppId: input.componentAppId });
    if (ticket.push?.status !== 200) throw new Error(`the ticket push failed: ${JSON.stringify(ticket.push)}`);
    const appIds = Array.from({ length: options.merchants }, randomAppId);
    const imports = [];
    for (const appId of appIds) {
      const { refreshToken } = await this.admin.addAuthorizer({ componentAppId: input.componentAppId, appId, funcInfo: [1, 52] });
      await this.admin.setBehaviour({ appId, scenario: options.scenario ?? { kind: 'accept' }, openAfterMs: options.openAfterMs ?? null });
      imports.push({ appId, refreshToken, permissionSets: [1, 52] });
    }
    await this.app.services.authorizers.import(systemContext(tenant.id), imports);
    // The ticket's effect runs after the answer; tokens need it stored.
    await this.app.webhooks?.drain();
    const t: WorldTenant = {
      tenantId: tenant.id,
      componentAppId: input.componentAppId,
      appIds,
      input,
      client: new GatewayClient([this.app.url as string], tenant.id, apiKey.key),
    };
    this.tenants.push(t);
    return t;
  }

  /** A worker as its own process (`src/jobs/worker-main.ts`) on this world's database, Redis and simulator. */
  async startWorker(env: Record<string, string> = {}): Promise<GatewayProcess> {
    const worker = await spawnGateway('worker', { ...this.gatewayEnv, LOG_LEVEL: 'info', ...env });
    this.workers.push(worker);
    return worker;
  }

  get accepted(): AcceptedApplication[] {
    return this.tenants.flatMap((t) => t.client.accepted);
  }

  /** The ledger's sources for these tenants (default: every tenant of the world). */
  ledgerSources(tenants: readonly WorldTenant[] = this.tenants): LedgerSources {
    const ids = new Set(tenants.map((t) => t.tenantId));
    return {
      db: this.env.database.db,
      sim: this.admin,
      tenantIds: [...ids],
      accepted: tenants.flatMap((t) => t.client.accepted),
      pushes: this.relay.records.filter((p) => ids.has(p.tenantId)),
    };
  }

  checkLedger(rules: LedgerRules & { tenants?: readonly WorldTenant[] } = {}): Promise<LedgerReport> {
    return checkLedger(this.ledgerSources(rules.tenants), rules);
  }

  /** Waits until the ledger balances; fails with its readable diff otherwise. */
  expectLedger(rules: LedgerRules & { tenants?: readonly WorldTenant[]; timeoutMs?: number } = {}): Promise<LedgerReport> {
    return expectLedgerBalanced(() => this.ledgerSources(rules.tenants), rules);
  }

  /** The tenant's application rows, oldest first. */
  applications(t: WorldTenant) {
    return this.env.database.db
      .select()
      .from(liveApplications)
      .where(eq(liveApplications.tenantId, t.tenantId))
      .orderBy(asc(liveApplications.createdAt), asc(liveApplications.id));
  }

  /** applyliveinfo calls the simulator saw for these merchants. */
  async calls(appIds: readonly string[]): Promise<number> {
    const byAppId = (await this.admin.counters()).calls.applyliveinfo?.byAppId ?? {};
    return appIds.reduce((n, id) => n + (byAppId[id] ?? 0), 0);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.kill()));
    await this.pgProxy?.up();
    await this.wechatProxy?.up();
    await this.app.stop().catch(() => {});
    await this.relay.close();
    await this.sim.stop();
    await this.pgProxy?.close();
    await this.wechatProxy?.close();
    await this.redis?.stop();
    await this.env.cleanup();
  }
}
