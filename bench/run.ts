/**
 * `npm run bench`: every figure of issue 8 beside its baseline, measured in this run on this
 * machine, as one table (also written to bench/results/latest.json). Servers run as child
 * processes pinned to core 0 and the load generators here, pinned to core 1, where `taskset`
 * exists. Figures with a baseline alternate with it over three rounds and report medians. About
 * five minutes; each figure is bounded in requests and time, and the whole run in time.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { type ApplyPipelineBenchResult, runApplyPipelineBench } from './apply-pipeline.bench.js';
import { type GraphqlQueryFigures, runGraphqlQueryBench } from './graphql-query.bench.js';
import { type LiveSyncFigures, runLiveSyncBench } from './live-sync.bench.js';
import { type OutboundFigures, runOutboundBench } from './outbound.bench.js';
import { type RetentionFigures, runRetentionBench } from './retention.bench.js';
import { type FanoutFigures, type IdleRssFigure, runFanoutBench, runIdleRssBench } from './subscription-fanout.bench.js';
import { canPin, pinSelf } from './support/processes.js';
import { median } from './support/stats.js';
import { runTenantScopeBench, type TenantScopeFigures } from './tenant-scope.bench.js';
import { runWebhookIngestBench, type WebhookIngestFigures } from './webhook-ingest.bench.js';

/** The whole run gives up after this long (a hung figure must not hang CI). */
const RUN_LIMIT_MS = 12 * 60_000;

export interface Row {
  figure: string;
  median: string;
  baseline: string;
  ratio: string;
  target: string;
  result: 'pass' | 'FAIL' | 'info' | 'error';
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ratio = (a: number, b: number) => (b > 0 ? a / b : Number.NaN);
const verdict = (ok: boolean): Row['result'] => (ok ? 'pass' : 'FAIL');

function queryRows(f: GraphqlQueryFigures): Row[] {
  const { gateway, gatewayBare, bare, stock, plain } = f.median;
  const toBare = ratio(gateway.okPerSec, bare.okPerSec);
  const toStock = ratio(gateway.okPerSec, stock.okPerSec);
  const toOff = ratio(gateway.okPerSec, gatewayBare.okPerSec);
  const cpu = (s: { cpuUsPerRequest: number }) => fmt(ratio(s.cpuUsPerRequest, gateway.cpuUsPerRequest), 2);
  return [
    {
      figure: '1. liveApplications(first: 20) + history, req/s, RLS on, vs plain node:http, bare SQL (the limit)',
      median: fmt(gateway.okPerSec),
      baseline: fmt(bare.okPerSec),
      ratio: `${fmt(toBare, 2)}x`,
      target: '>= 0.8x',
      result: verdict(toBare >= 0.8),
    },
    {
      figure: '1. liveApplications(first: 20) + history, req/s, RLS on, vs stock Apollo 5 + DataLoader, bare SQL',
      median: fmt(gateway.okPerSec),
      baseline: fmt(stock.okPerSec),
      ratio: `${fmt(toStock, 2)}x`,
      target: '>= 2.5x',
      result: verdict(toStock >= 2.5),
    },
    {
      figure: '1. what RLS costs: the gateway, req/s, scopes on vs off',
      median: fmt(gateway.okPerSec),
      baseline: fmt(gatewayBare.okPerSec),
      ratio: `${fmt(toOff, 2)}x`,
      target: '>= 0.9x',
      result: verdict(toOff >= 0.9),
    },
    {
      figure: '1. liveApplications(first: 20) + history, req/s, vs plain node:http with the same scopes',
      median: fmt(gateway.okPerSec),
      baseline: fmt(plain.okPerSec),
      ratio: `${fmt(ratio(gateway.okPerSec, plain.okPerSec), 2)}x`,
      target: '',
      result: 'info',
    },
    {
      figure: '1. liveApplications p99 latency, ms (bare / stock / scopes off / plain scoped)',
      median: fmt(gateway.p99Ms),
      baseline: `${fmt(bare.p99Ms)} / ${fmt(stock.p99Ms)} / ${fmt(gatewayBare.p99Ms)} / ${fmt(plain.p99Ms)}`,
      ratio: '',
      target: '',
      result: 'info',
    },
    {
      figure: '1. server CPU per request, us (bare / stock / scopes off / plain scoped)',
      median: fmt(gateway.cpuUsPerRequest),
      baseline: `${fmt(bare.cpuUsPerRequest)} / ${fmt(stock.cpuUsPerRequest)} / ${fmt(gatewayBare.cpuUsPerRequest)} / ${fmt(plain.cpuUsPerRequest)}`,
      ratio: `${cpu(bare)}x / ${cpu(stock)}x / ${cpu(gatewayBare)}x / ${cpu(plain)}x`,
      target: '',
      result: 'info',
    },
  ];
}

function webhookRows(f: WebhookIngestFigures): Row[] {
  const r = ratio(f.median.gateway, f.median.plain);
  return [
    {
      figure: '2. webhook: encrypted wxa_live_apply_event stored/s, vs plain INSERT',
      median: fmt(f.median.gateway),
      baseline: fmt(f.median.plain),
      ratio: `${fmt(r, 2)}x`,
      target: '>= 0.6x',
      result: verdict(r >= 0.6),
    },
    {
      figure: '2. webhook: pushes processed (application opened, change published)/s',
      median: fmt(f.processedPerSecMedian),
      baseline: '',
      ratio: '',
      target: '',
      result: 'info',
    },
    {
      figure: `2. push -> graphql-ws subscriber at ${fmt(f.latency.ratePerSec)}/s (half max), p50 / p99 ms`,
      median: `${fmt(f.latency.p50Ms, 1)} / ${fmt(f.latency.p99Ms, 1)}`,
      baseline: '',
      ratio: '',
      target: 'p99 <= 25 ms',
      result: verdict(f.latency.delivered >= f.latency.pushes && f.latency.p99Ms <= 25),
    },
    {
      figure: `2. push -> graphql-ws subscriber at ${fmt(f.latencyLight.ratePerSec)}/s, p50 / p99 ms`,
      median: `${fmt(f.latencyLight.p50Ms, 1)} / ${fmt(f.latencyLight.p99Ms, 1)}`,
      baseline: '',
      ratio: '',
      target: '',
      result: 'info',
    },
  ];
}

function pipelineRows(f: ApplyPipelineBenchResult): Row[] {
  const noop = f.median.noopProcessedPerSecond;
  const workersLabel = (workers: string) => `${workers} worker${workers === '1' ? '' : 's'}`;
  const rows = Object.entries(f.median.perSecondByWorkers).map(([workers, perSecond]) => ({
    figure: `3. applyLiveBatch -> SUBMITTED, applications/s, ${workersLabel(workers)}, vs BullMQ no-op jobs/s`,
    median: fmt(perSecond),
    baseline: fmt(noop),
    ratio: `${fmt(ratio(perSecond, noop), 3)}x`,
    target: workers === '2' ? '>= 1,000/s' : '',
    result: workers === '2' ? verdict(perSecond >= 1000) : 'info',
  }));
  // Issue 14: the application.updated events of the same runs, against the SUBMITTED rate they follow.
  for (const [workers, events] of Object.entries(f.median.eventsPerSecondByWorkers)) {
    const submitted = f.median.perSecondByWorkers[workers] ?? 0;
    rows.push({
      figure: `7. application.updated (SUBMITTED) events received/s, ${workersLabel(workers)}, vs SUBMITTED/s`,
      median: events === null ? 'n/a' : fmt(events),
      baseline: fmt(submitted),
      ratio: events === null ? '' : `${fmt(ratio(events, submitted), 2)}x`,
      target: '>= 1.0x',
      result: verdict(events !== null && events >= submitted),
    });
    const lags = f.pipeline.filter((p) => String(p.workers) === workers && p.eventLagMs !== null).map((p) => p.eventLagMs as { p50: number; p99: number });
    if (lags.length > 0) {
      rows.push({
        figure: `7. event lag after SUBMITTED reached the feed, p50 / p99 ms, ${workersLabel(workers)}`,
        median: `${fmt(median(lags.map((l) => l.p50)))} / ${fmt(median(lags.map((l) => l.p99)))}`,
        baseline: '',
        ratio: '',
        target: '',
        result: 'info',
      });
    }
  }
  return rows;
}

function fanoutRows(f: FanoutFigures): Row[] {
  const kb = f.bytesPerSubscriber / 1024;
  return [
    {
      figure: `4. one change to ${fmt(f.subscribers)} graphql-ws subscribers, ms to the last`,
      median: f.deliveredAllMs === null ? `${fmt(f.received)} received` : fmt(f.deliveredAllMs),
      baseline: '',
      ratio: '',
      target: '<= 1,000 ms',
      result: verdict(f.deliveredAllMs !== null && f.deliveredAllMs <= 1000),
    },
    {
      figure: `4. a gap replayed to ${fmt(f.subscribers)} subscribers with the stream lost (from Postgres), ms from the cut to the last, vs from the stream`,
      median: f.gapFromPostgresMs === null ? 'incomplete' : fmt(f.gapFromPostgresMs),
      baseline: f.gapFromStreamMs === null ? 'incomplete' : fmt(f.gapFromStreamMs),
      ratio: f.gapFromPostgresMs === null || f.gapFromStreamMs === null ? '' : `${(f.gapFromPostgresMs / f.gapFromStreamMs).toFixed(2)}x`,
      target: 'info',
      result: 'info',
    },
    {
      figure: '4. idle memory per subscriber, KB (RSS delta / subscribers)',
      median: fmt(kb, 1),
      baseline: '',
      ratio: '',
      target: '<= 30 KB',
      result: verdict(kb <= 30),
    },
  ];
}

function scopeRows(f: TenantScopeFigures): Row[] {
  const { bare, scoped } = f.median;
  return [
    {
      figure: '6. one statement in a tenant scope (begin+set_config, COMMIT), ops/s, vs bare',
      median: fmt(scoped.opsPerSec),
      baseline: fmt(bare.opsPerSec),
      ratio: `${fmt(ratio(scoped.opsPerSec, bare.opsPerSec), 2)}x`,
      target: '',
      result: 'info',
    },
    {
      figure: '6. client CPU per statement, us, scoped vs bare',
      median: fmt(scoped.cpuUsPerOp),
      baseline: fmt(bare.cpuUsPerOp),
      ratio: `${fmt(ratio(scoped.cpuUsPerOp, bare.cpuUsPerOp), 2)}x`,
      target: '',
      result: 'info',
    },
  ];
}

function idleRows(f: IdleRssFigure): Row[] {
  const mb = f.rssBytes / 1048576;
  return [{ figure: '5. idle gateway RSS, ROLE=all, MB', median: fmt(mb), baseline: '', ratio: '', target: '<= 200 MB', result: verdict(mb <= 200) }];
}

function outboundRows(f: OutboundFigures): Row[] {
  const relay = ratio(f.relay.median.relayedPerSec, f.relay.median.storedPerSec);
  const tokens = ratio(f.tokens.median.gatewayPerSec, f.tokens.median.redisGetPerSec);
  return [
    {
      figure: '7. relay: pushes relayed/s to a local receiver, vs pushes stored/s',
      median: fmt(f.relay.median.relayedPerSec),
      baseline: fmt(f.relay.median.storedPerSec),
      ratio: `${fmt(relay, 2)}x`,
      target: '>= 0.8x',
      result: verdict(relay >= 0.8),
    },
    {
      figure: "7. relay: push -> receiver at 100/s, p50 / p99 ms, vs push -> the gateway's answer (stored)",
      median: `${fmt(f.relayLatency.p50Ms, 1)} / ${fmt(f.relayLatency.p99Ms, 1)}`,
      baseline: `${fmt(f.relayLatency.answerP50Ms, 1)} / ${fmt(f.relayLatency.answerP99Ms, 1)}`,
      ratio: '',
      target: 'p99 <= 50 ms',
      result: verdict(f.relayLatency.relayed >= f.relayLatency.pushes && f.relayLatency.p99Ms <= 50),
    },
    {
      figure: `7. componentAccessToken reads/s by one key (${f.tokens.connections} connections), vs bare Redis GET`,
      median: fmt(f.tokens.median.gatewayPerSec),
      baseline: fmt(f.tokens.median.redisGetPerSec),
      ratio: `${fmt(tokens, 3)}x`,
      target: '>= 0.3x',
      result: verdict(tokens >= 0.3),
    },
    {
      figure: '7. the floor: plain node:http answering the same JSON from one Redis GET (no GraphQL, no key), reads/s vs bare Redis GET',
      median: fmt(f.tokens.median.bareHttpPerSec),
      baseline: fmt(f.tokens.median.redisGetPerSec),
      ratio: `${fmt(ratio(f.tokens.median.bareHttpPerSec, f.tokens.median.redisGetPerSec), 3)}x`,
      target: '',
      result: 'info',
    },
  ];
}

function retentionRows(f: RetentionFigures): Row[] {
  const n = f.rows >= 1e6 ? `${fmt(f.rows / 1e6, f.rows % 1e6 === 0 ? 0 : 1)}M` : fmt(f.rows);
  return [
    {
      figure: `8. retention run on a ${n}-row inbox (${fmt(f.expired)} expired, one day), s: the day's partition dropped vs one plain DELETE on an unpartitioned copy`,
      median: fmt(f.retentionMs / 1000, 3),
      baseline: fmt(f.plainDeleteMs / 1000, 2),
      ratio: `${fmt(ratio(f.retentionMs, f.plainDeleteMs), 3)}x`,
      target: '',
      result: 'info',
    },
    {
      figure: '8. retention: p50 / p99 / longest statement of the run, ms, vs the plain DELETE (one transaction holding every row)',
      median: `${fmt(f.batchP50Ms)} / ${fmt(f.batchP99Ms)} / ${fmt(f.longestBatchMs)}`,
      baseline: fmt(f.plainDeleteMs),
      ratio: `${fmt(ratio(f.longestBatchMs, f.plainDeleteMs), 2)}x`,
      target: '<= 1,000 ms',
      result: verdict(f.longestBatchMs <= 1000),
    },
    {
      figure: `8. retention run with nothing expired on the ${n}-row inbox, ms: right after the deletes / once more`,
      median: `${fmt(f.idleRunMs)} / ${fmt(f.idleAgainMs)}`,
      baseline: '',
      ratio: '',
      target: '',
      result: 'info',
    },
  ];
}

function liveSyncRows(f: LiveSyncFigures): Row[] {
  const { sync, bare, http } = f.median;
  const perCall = ratio(sync.rooms, sync.liveInfoCalls);
  const cpu = ratio(sync.cpuUsPerRoom, bare.cpuUsPerRoom);
  return [
    {
      figure: `9. live sync: rooms synced per getliveinfo call (quota efficiency; ${f.merchants} merchants x ${f.roomsPerMerchant} rooms, pages of 80)`,
      median: fmt(perCall, 1),
      baseline: fmt(f.roomsPerMerchant / Math.ceil(f.roomsPerMerchant / 80), 1),
      ratio: `${fmt(ratio(perCall, f.roomsPerMerchant / Math.ceil(f.roomsPerMerchant / 80)), 2)}x`,
      target: '= ceil(rooms/80) calls',
      result: verdict(sync.liveInfoCalls === f.merchants * Math.ceil(f.roomsPerMerchant / 80)),
    },
    {
      figure: `9. live sync: CPU per synced room, us (gateway process incl. simulator), 10% changed -> ${fmt(sync.events)} events, vs same pages + one plain upsert per room`,
      median: fmt(sync.cpuUsPerRoom),
      baseline: fmt(bare.cpuUsPerRoom),
      ratio: `${fmt(cpu, 2)}x`,
      target: '<= 1.5x',
      result: verdict(cpu <= 1.5),
    },
    {
      figure: '9. live sync: rooms/s, sync / bare upserts / pages only; Postgres CPU per room, us, sync / bare; process CPU per room, pages only',
      median: fmt(sync.roomsPerSec),
      baseline: `${fmt(bare.roomsPerSec)} / ${fmt(http.roomsPerSec)}; pg ${fmt(sync.postgresCpuUsPerRoom)} / ${fmt(bare.postgresCpuUsPerRoom)}; ${fmt(http.cpuUsPerRoom)} us`,
      ratio: '',
      target: '',
      result: 'info',
    },
  ];
}

export function formatTable(rows: Row[]): string {
  const header: Row = { figure: 'figure', median: 'median', baseline: 'baseline median', ratio: 'ratio', target: 'target', result: 'info' };
  const cells = (r: Row) => [r.figure, r.median, r.baseline, r.ratio, r.target, r === header ? 'pass/fail' : r.result];
  const all = [header, ...rows].map(cells);
  const widths = all[0]?.map((_, i) => Math.max(...all.map((c) => (c[i] ?? '').length))) ?? [];
  const line = (c: string[]) => `| ${c.map((v, i) => (i === 0 ? v.padEnd(widths[i] ?? 0) : v.padStart(widths[i] ?? 0))).join(' | ')} |`;
  // As biome formats a Markdown table, so the table pastes into bench/README.md as it is.
  const rule = `|${widths.map((w, i) => (i === 0 ? ` ${'-'.repeat(w)} ` : ` ${'-'.repeat(w - 1)}: `)).join('|')}|`;
  return [line(all[0] as string[]), rule, ...all.slice(1).map(line)].join('\n');
}

/** `npm run check` formats bench/ with biome, results included: write them as biome would. */
function formatWithBiome(path: string): void {
  try {
    execFileSync(fileURLToPath(new URL('../node_modules/.bin/biome', import.meta.url)), ['format', '--write', path], { stdio: 'ignore' });
  } catch {
    // Best effort: the file is git-ignored, and valid JSON either way.
  }
}

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench: gave up after ${RUN_LIMIT_MS / 60_000} minutes\n`);
    process.exit(2);
  }, RUN_LIMIT_MS);
  watchdog.unref();
  const pinned = pinSelf('1');
  const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
  log(pinned ? 'pinned: servers on core 0, load generators on core 1' : 'taskset unavailable: nothing pinned');
  const startedAt = new Date();
  const loadBefore = loadavg();
  const rows: Row[] = [];
  const figures: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  const step = async <T>(name: string, run: () => Promise<T>, toRows: (f: T) => Row[]) => {
    const t0 = performance.now();
    log(`${name}: starting`);
    try {
      const f = await run();
      figures[name] = f;
      rows.push(...toRows(f));
    } catch (err) {
      errors[name] = err instanceof Error ? (err.stack ?? err.message) : String(err);
      rows.push({
        figure: `${name}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
        median: '',
        baseline: '',
        ratio: '',
        target: '',
        result: 'error',
      });
    }
    log(`${name}: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  };
  await step('query', () => runGraphqlQueryBench({ log, secondsPerRun: 7 }), queryRows);
  await step('webhook', () => runWebhookIngestBench({ log }), webhookRows);
  await step('pipeline', () => runApplyPipelineBench({ log }), pipelineRows);
  await step('fanout', () => runFanoutBench({ log }), fanoutRows);
  await step('idleRss', () => runIdleRssBench(), idleRows);
  await step('scope', () => runTenantScopeBench({ log }), scopeRows);
  await step('outbound', () => runOutboundBench({ log }), outboundRows);
  // BENCH_RETENTION_ROWS (default 1M here, to stay inside the run's limit; 10M takes ~10 min to generate on 2 cores).
  await step('retention', () => runRetentionBench({ log }), retentionRows);
  await step('liveSync', () => runLiveSyncBench({ log }), liveSyncRows);

  const table = formatTable(rows);
  const result = {
    date: startedAt.toISOString(),
    seconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
    machine: {
      cpus: cpus().length,
      model: cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      pinned: canPin(),
      loadAverageBefore: loadBefore.map((x) => Math.round(x * 100) / 100),
      loadAverageAfter: loadavg().map((x) => Math.round(x * 100) / 100),
    },
    table: rows,
    figures,
    errors,
  };
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}latest.json`, `${JSON.stringify(result, null, 2)}\n`);
  formatWithBiome(`${dir}latest.json`);
  process.stdout.write(
    `\n${table}\n\n${result.machine.cpus} cores (${result.machine.model}), Node ${result.machine.node}, load average ${loadBefore.map((x) => x.toFixed(2)).join(' ')} at the start; ${result.seconds} s; bench/results/latest.json\n`,
  );
  process.exit(Object.keys(errors).length > 0 ? 1 : 0);
}

await main();
