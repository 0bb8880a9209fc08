/**
 * Figure 1: `liveApplications(first: 20)` with `history` (20 applications, 60 history rows)
 * against Postgres (10,000 applications over 3 tenants, 3 events each), authenticated with an
 * API key, through a postgres-js pool of 10. The gateway (`createApp`, ROLE=api, row-level
 * security on) beside
 * - `bare`: plain node:http running the same SQL bare (the same service methods over a handle
 *   without scopes, as the superuser: no row-level security, no transactions) and
 *   JSON.stringify: the limit;
 * - `stock`: stock Apollo Server 5 with per-field resolvers and a DataLoader over the same bare
 *   SQL: the peer;
 * - `gatewayBare`: the same gateway with scopes off (BENCH_SCOPES=off): what row-level security costs;
 * - `plain`: the plain node:http server with the gateway's scopes (an extra row).
 * Each server is a child process pinned to core 0; the load (autocannon) runs here, meant to be
 * pinned to core 1. Runs alternate between the servers so a noisy neighbour hits all alike.
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import {
  BENCH_REDIS_URL,
  type BenchDatabase,
  type BenchTenant,
  createBenchDatabase,
  createBenchTenant,
  deleteRedisPrefix,
  seedApplications,
} from './support/bench-db.js';
import { runLoad, type LoadResult } from './support/load.js';
import { type BenchProcess, cpuSecondsOf, pinSelf, spawnBenchProcess } from './support/processes.js';
import { median } from './support/stats.js';

export const PAGE_QUERY = `query Page($first: Int) {
  liveApplications(first: $first) {
    edges {
      cursor
      node {
        id appId status errcode errmsg errorCode attempts idempotencyKey createdAt submittedAt openedAt expiresAt updatedAt
        history { id type status errcode errmsg latencyMs attempt message at }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}`;

export type QueryServer = 'gateway' | 'gatewayBare' | 'bare' | 'stock' | 'plain';

const SCRIPTS: Record<QueryServer, string> = {
  gateway: 'bench/servers/gateway.server.ts',
  gatewayBare: 'bench/servers/gateway.server.ts',
  bare: 'bench/servers/plain-query.server.ts',
  stock: 'bench/servers/stock-apollo.server.ts',
  plain: 'bench/servers/plain-query.server.ts',
};

/** Which servers run without scopes (bench/support/bare-database.ts). */
const BARE: Record<QueryServer, boolean> = { gateway: false, gatewayBare: true, bare: true, stock: true, plain: false };

export const ALL_QUERY_SERVERS: QueryServer[] = ['gateway', 'gatewayBare', 'bare', 'stock', 'plain'];

export interface QueryRun extends LoadResult {
  /** Server CPU per answered request, microseconds. */
  cpuUsPerRequest: number;
  /** CPU of every Postgres process per answered request (other users of the server included). */
  postgresCpuUsPerRequest: number;
  /** This process's CPU (the load generator) per answered request. */
  loadCpuUsPerRequest: number;
}

export interface GraphqlQueryFigures {
  connections: number;
  secondsPerRun: number;
  rounds: number;
  runs: Record<QueryServer, QueryRun[]>;
  median: Record<QueryServer, { okPerSec: number; p99Ms: number; cpuUsPerRequest: number }>;
}

export interface GraphqlQueryBenchOptions {
  rounds?: number;
  secondsPerRun?: number;
  connections?: number;
  applications?: number;
  /** Server core list for taskset (default "0"). */
  serverCores?: string;
  servers?: QueryServer[];
  log?: (line: string) => void;
  /** An existing seeded database (run.ts shares one); otherwise one is created and dropped. */
  db?: { bench: BenchDatabase; tenants: BenchTenant[] };
  nodeArgs?: Partial<Record<QueryServer, string[]>>;
  /** Requests per second (open loop) instead of as fast as answered: for comparing CPU per request. */
  rate?: number;
}

export async function seedQueryDatabase(applications = 10_000): Promise<{ bench: BenchDatabase; tenants: BenchTenant[] }> {
  const bench = await createBenchDatabase();
  const tenants = [];
  for (let n = 0; n < 3; n++) tenants.push(await createBenchTenant(bench, n));
  await seedApplications(bench, tenants, applications);
  return { bench, tenants };
}

export async function runGraphqlQueryBench(options: GraphqlQueryBenchOptions = {}): Promise<GraphqlQueryFigures> {
  const log = options.log ?? (() => {});
  const rounds = options.rounds ?? 3;
  const seconds = options.secondsPerRun ?? 8;
  const connections = options.connections ?? 20;
  const servers = options.servers ?? ALL_QUERY_SERVERS;
  const own = options.db ? undefined : await seedQueryDatabase(options.applications);
  const { bench, tenants } = options.db ?? (own as NonNullable<typeof own>);
  const tenant = tenants[0] as BenchTenant;
  const running: BenchProcess[] = [];
  const redisPrefix = `bench-${randomBytes(4).toString('hex')}`;
  try {
    const env = {
      DATABASE_URL: bench.url,
      DB_POOL_SIZE: '10',
      REDIS_URL: BENCH_REDIS_URL,
      REDIS_PREFIX: redisPrefix,
      SECRET_KEY: bench.secretKey.toString('base64'),
      // The load comes from one key: these figures measure the gateway, not the per-key rate limit.
      RATE_LIMIT_PER_SECOND: '100000',
      RATE_LIMIT_BURST: '1000000',
      ROLE: 'api',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    };
    const processes = {} as Record<QueryServer, BenchProcess>;
    for (const s of servers) {
      const p = await spawnBenchProcess(SCRIPTS[s], {
        env: { ...env, BENCH_SCOPES: BARE[s] ? 'off' : 'on' },
        cores: options.serverCores ?? '0',
        nodeArgs: options.nodeArgs?.[s] ?? [],
      });
      running.push(p);
      processes[s] = p;
    }
    const body = JSON.stringify({ query: PAGE_QUERY, variables: { first: 20 }, operationName: 'Page' });
    const requests = [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${tenant.apiKey}` },
        body,
      },
    ];
    // startStandaloneServer answers on every path; the others at /graphql.
    const urlOf = (s: QueryServer) => (s === 'stock' ? String(processes[s].ready.url) : `${String(processes[s].ready.url)}/graphql`);
    // Check each answers correctly (20 items with 3 history events each) before timing anything.
    for (const s of servers) {
      const res = await fetch(urlOf(s), { method: 'POST', headers: requests[0]?.headers, body });
      const json = (await res.json()) as { data?: { liveApplications?: { edges: { node: { history: unknown[] } }[] } } };
      const edges = json.data?.liveApplications?.edges ?? [];
      if (res.status !== 200 || edges.length !== 20 || edges.some((e) => e.node.history.length !== 3)) {
        throw new Error(`${s} answered ${res.status}: ${JSON.stringify(json).slice(0, 500)}`);
      }
    }
    const run = async (s: QueryServer, secs: number): Promise<QueryRun> => {
      const p = processes[s];
      const cpu0 = p.cpuSeconds();
      const pg0 = cpuSecondsOf('postgres');
      const load0 = process.cpuUsage();
      const result = await runLoad({
        url: urlOf(s),
        connections,
        seconds: secs,
        maxRequests: secs * 20_000,
        requests,
        ...(options.rate ? { rate: options.rate } : {}),
      });
      const cpu = p.cpuSeconds() - cpu0;
      const pg = cpuSecondsOf('postgres') - pg0;
      const load = process.cpuUsage(load0);
      const perRequest = (seconds: number) => Math.round((seconds * 1e6) / Math.max(1, result.ok));
      return {
        ...result,
        cpuUsPerRequest: perRequest(cpu),
        postgresCpuUsPerRequest: perRequest(pg),
        loadCpuUsPerRequest: perRequest((load.user + load.system) / 1e6),
      };
    };
    // Warm-up: JIT, pools, compiled queries.
    for (const s of servers) await run(s, 2);
    const runs = Object.fromEntries(servers.map((s) => [s, [] as QueryRun[]])) as Record<QueryServer, QueryRun[]>;
    for (let round = 1; round <= rounds; round++) {
      for (const s of servers) {
        const r = await run(s, seconds);
        runs[s].push(r);
        log(
          `query round ${round} ${s}: ${r.okPerSec} req/s, p99 ${r.p99Ms} ms, CPU/req µs: server ${r.cpuUsPerRequest}, postgres ${r.postgresCpuUsPerRequest}, load ${r.loadCpuUsPerRequest}; ${r.failed} failed`,
        );
      }
    }
    const summary = Object.fromEntries(
      servers.map((s) => [
        s,
        {
          okPerSec: median(runs[s].map((r) => r.okPerSec)),
          p99Ms: median(runs[s].map((r) => r.p99Ms)),
          cpuUsPerRequest: median(runs[s].map((r) => r.cpuUsPerRequest)),
        },
      ]),
    ) as GraphqlQueryFigures['median'];
    return { connections, secondsPerRun: seconds, rounds, runs, median: summary };
  } finally {
    await Promise.all(running.map((p) => p.stop()));
    await deleteRedisPrefix(redisPrefix);
    if (own) await own.bench.drop();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  pinSelf('1');
  const servers = process.env.BENCH_SERVERS?.split(',') as QueryServer[] | undefined;
  const figures = await runGraphqlQueryBench({
    log: (line) => console.error(line),
    ...(servers ? { servers } : {}),
    ...(process.env.BENCH_ROUNDS ? { rounds: Number(process.env.BENCH_ROUNDS) } : {}),
    ...(process.env.BENCH_SECONDS ? { secondsPerRun: Number(process.env.BENCH_SECONDS) } : {}),
    ...(process.env.BENCH_RATE ? { rate: Number(process.env.BENCH_RATE) } : {}),
  });
  console.log(JSON.stringify(figures.median, null, 2));
}
