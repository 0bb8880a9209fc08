import type { WechatEndpoint } from '../endpoints.js';
import type { CountersSnapshot, PushRecord } from './types.js';

const RECENT_PUSHES = 200;

/** Calls and pushes the simulator saw; cheap to bump on every request, snapshotted on demand. */
export class SimCounters {
  private calls = new Map<WechatEndpoint, { total: number; byAppId: Map<string, number>; abandonedByAppId: Map<string, number> }>();
  private pushes = { sent: 0, failed: 0, byStatus: new Map<string, number>(), recent: [] as PushRecord[] };

  call(endpoint: WechatEndpoint, appId: string): void {
    const entry = this.entry(endpoint);
    entry.total++;
    entry.byAppId.set(appId, (entry.byAppId.get(appId) ?? 0) + 1);
  }

  /** A counted call whose caller hung up before the answer was ready (WeChat acted on it all the same). */
  abandon(endpoint: WechatEndpoint, appId: string): void {
    const entry = this.entry(endpoint);
    entry.abandonedByAppId.set(appId, (entry.abandonedByAppId.get(appId) ?? 0) + 1);
  }

  private entry(endpoint: WechatEndpoint) {
    let entry = this.calls.get(endpoint);
    if (!entry) {
      entry = { total: 0, byAppId: new Map(), abandonedByAppId: new Map() };
      this.calls.set(endpoint, entry);
    }
    return entry;
  }

  push(record: PushRecord): void {
    this.pushes.sent++;
    if (record.status === null) this.pushes.failed++;
    const status = record.status === null ? 'error' : String(record.status);
    this.pushes.byStatus.set(status, (this.pushes.byStatus.get(status) ?? 0) + 1);
    this.pushes.recent.push(record);
    if (this.pushes.recent.length > RECENT_PUSHES) this.pushes.recent.shift();
  }

  snapshot(): CountersSnapshot {
    const calls: CountersSnapshot['calls'] = {};
    for (const [endpoint, entry] of this.calls) {
      calls[endpoint] = {
        total: entry.total,
        byAppId: Object.fromEntries(entry.byAppId),
        abandonedByAppId: Object.fromEntries(entry.abandonedByAppId),
      };
    }
    return {
      calls,
      pushes: {
        sent: this.pushes.sent,
        failed: this.pushes.failed,
        byStatus: Object.fromEntries(this.pushes.byStatus),
        recent: [...this.pushes.recent],
      },
    };
  }

  reset(): void {
    this.calls = new Map();
    this.pushes = { sent: 0, failed: 0, byStatus: new Map(), recent: [] };
  }
}
