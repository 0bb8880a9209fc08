import { describe, expect, it } from 'vitest';
import type { ApplicationChange, StreamReplay } from '../../src/events/change-feed.js';
import { ApplicationFeed, type ChangeSource, compareCursors, type StoreRead } from '../../src/graphql/application-feed.js';
import type { LiveApplicationView } from '../../src/services/live-application/index.js';
import { applicationView } from '../support/application-view.js';

/** An in-memory change feed: a kept stream plus live listeners, like Redis's stream + pub/sub. */
class MemorySource implements ChangeSource {
  readonly stream: ApplicationChange[] = [];
  readonly listeners = new Set<(c: ApplicationChange) => void>();
  readonly gapListeners = new Set<(sinceMs: number) => void>();
  readonly lossListeners = new Set<(atMs: number) => void>();
  private seq = 0;
  /** Runs before each replay page is answered (to interleave live changes with a replay). */
  onReplay: (() => void) | undefined;

  listen(_tenantId: string, listener: (c: ApplicationChange) => void, onGap?: (sinceMs: number) => void, onLost?: (atMs: number) => void): () => void {
    this.listeners.add(listener);
    if (onGap) this.gapListeners.add(onGap);
    if (onLost) this.lossListeners.add(onLost);
    return () => {
      this.listeners.delete(listener);
      if (onGap) this.gapListeners.delete(onGap);
      if (onLost) this.lossListeners.delete(onLost);
    };
  }

  /** The subscription connection was lost. */
  lost(atMs = 0): void {
    for (const l of this.lossListeners) l(atMs);
  }

  /** The subscription connection came back: what was published meanwhile reached no listener. */
  gap(sinceMs = 0): void {
    for (const l of this.gapListeners) l(sinceMs);
  }

  async replay(_tenantId: string, after: string, count: number): Promise<StreamReplay> {
    this.onReplay?.();
    return { complete: true, changes: this.stream.filter((c) => compareCursors(c.cursor, after) > 0).slice(0, count) };
  }

  /** The stream here is never lost, so a subscription never asks. */
  async changedSince(): Promise<StoreRead> {
    throw new Error('MemorySource keeps every change: nothing is replayed from a store');
  }

  publish(id: string, status: LiveApplicationView['status'], tenantId = 't1', appId = `wx${id.padStart(16, '0')}`, live = true): ApplicationChange {
    this.seq += 1;
    const change = { cursor: `1000-${this.seq}`, application: view(id, status, tenantId, appId) };
    this.stream.push(change);
    if (live) for (const l of this.listeners) l(change);
    return change;
  }
}

const view = (id: string, status: LiveApplicationView['status'], tenantId: string, appId: string) =>
  applicationView(tenantId, id, status, appId, '2026-01-15T04:00:00.000Z');

const ctx = { tenantId: 't1', scopes: new Set(['read'] as const), requestId: 'r1' };

async function take(it: AsyncIterator<ApplicationChange>, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await it.next();
    if (r.done) break;
    out.push(`${r.value.application.id}:${r.value.application.status}@${r.value.cursor}`);
  }
  return out;
}

describe('ApplicationFeed', () => {
  it("coalesces a slow reader's waiting changes per application, latest state last", async () => {
    const source = new MemorySource();
    const it = new ApplicationFeed(source).subscribe(ctx, {});
    source.publish('a', 'QUEUED');
    source.publish('b', 'QUEUED');
    source.publish('a', 'SUBMITTED');
    source.publish('a', 'OPENED');
    expect(await take(it, 2)).toEqual(['b:QUEUED@1000-2', 'a:OPENED@1000-4']);
    await it.return?.();
  });

  it('drops only the subscriber that fell behind, freeing its buffer; others get every change', async () => {
    const source = new MemorySource();
    const feed = new ApplicationFeed(source, { maxPending: 3 });
    const slow = feed.subscribe(ctx, {});
    const fast = feed.subscribe(ctx, {});
    const seen: Promise<string[]> = take(fast, 5);
    for (const id of ['a', 'b', 'c', 'd', 'e']) {
      source.publish(id, 'QUEUED');
      await Promise.resolve();
    }
    expect(await seen).toHaveLength(5);
    expect(source.listeners.size).toBe(1);
    await expect(slow.next()).rejects.toMatchObject({ extensions: { code: 'SUBSCRIBER_TOO_SLOW' } });
    expect(await slow.next()).toEqual({ value: undefined, done: true });
    await fast.return?.();
    expect(source.listeners.size).toBe(0);
  });

  it('replays after a cursor, holds live changes meanwhile, and delivers each change once in cursor order', async () => {
    const source = new MemorySource();
    const c1 = source.publish('a', 'QUEUED');
    source.publish('b', 'QUEUED');
    source.publish('c', 'QUEUED');
    let injected = false;
    source.onReplay = () => {
      // Published between subscribing and the replay read: in the stream and live, delivered once.
      if (!injected) source.publish('d', 'QUEUED');
      injected = true;
    };
    const it = new ApplicationFeed(source, { replayPageSize: 2 }).subscribe(ctx, { after: c1.cursor });
    expect(await take(it, 3)).toEqual(['b:QUEUED@1000-2', 'c:QUEUED@1000-3', 'd:QUEUED@1000-4']);
    source.publish('e', 'QUEUED');
    expect(await take(it, 1)).toEqual(['e:QUEUED@1000-5']);
    await it.return?.();
  });

  it('filters by tenant, app id and application id', async () => {
    const source = new MemorySource();
    const feed = new ApplicationFeed(source);
    const byApp = feed.subscribe(ctx, { appId: 'wx000000000000000b' });
    const byId = feed.subscribe(ctx, { id: 'c' });
    source.publish('a', 'QUEUED', 't2', 'wx000000000000000b');
    source.publish('a', 'QUEUED');
    source.publish('b', 'QUEUED');
    source.publish('c', 'QUEUED');
    expect(await take(byApp, 1)).toEqual(['b:QUEUED@1000-3']);
    expect(await take(byId, 1)).toEqual(['c:QUEUED@1000-4']);
    await byApp.return?.();
    await byId.return?.();
  });

  it('ends a waiting read when the client unsubscribes, and stops listening', async () => {
    const source = new MemorySource();
    const it = new ApplicationFeed(source).subscribe(ctx, {});
    const pending = it.next();
    await it.return?.();
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(source.listeners.size).toBe(0);
  });

  it('refuses an "after" that is not a stream cursor', () => {
    expect(() => new ApplicationFeed(new MemorySource()).subscribe(ctx, { after: 'x' })).toThrow(/cursor/);
  });

  it('replays what a lost subscription connection missed, to a waiting reader, once and in order', async () => {
    const source = new MemorySource();
    const sub = new ApplicationFeed(source).subscribe(ctx, {});
    source.publish('a1', 'SUBMITTED');
    expect(await take(sub, 1)).toEqual(['a1:SUBMITTED@1000-1']);
    const waiting = take(sub, 3);
    // Published while the connection was down: in the stream, never delivered live.
    source.publish('a1', 'OPENED', 't1', undefined, false);
    source.publish('a2', 'SUBMITTED', 't1', undefined, false);
    source.gap();
    source.publish('a3', 'QUEUED');
    expect(await waiting).toEqual(['a1:OPENED@1000-2', 'a2:SUBMITTED@1000-3', 'a3:QUEUED@1000-4']);
    // A second gap notice with nothing missed replays nothing again.
    source.gap();
    source.publish('a4', 'QUEUED');
    expect(await take(sub, 1)).toEqual(['a4:QUEUED@1000-5']);
    await sub.return?.();
  });

  it('replays a gap from where delivery stood when the connection was lost, though a change was heard after the reconnect first', async () => {
    const source = new MemorySource();
    const sub = new ApplicationFeed(source).subscribe(ctx, {});
    source.publish('a1', 'SUBMITTED');
    expect(await take(sub, 1)).toEqual(['a1:SUBMITTED@1000-1']);
    source.lost();
    // Published while the connection was down: in the stream, never heard live.
    source.publish('a2', 'SUBMITTED', 't1', undefined, false);
    // Heard once ioredis had subscribed again, before the gap is reported.
    source.publish('a3', 'QUEUED');
    source.gap();
    expect(await take(sub, 2)).toEqual(['a2:SUBMITTED@1000-2', 'a3:QUEUED@1000-3']);
    source.publish('a4', 'QUEUED');
    expect(await take(sub, 1)).toEqual(['a4:QUEUED@1000-4']);
    await sub.return?.();
  });

  it('replays a gap whose connection was lost while a replay ran, from where that replay ended', async () => {
    const source = new MemorySource();
    source.publish('a1', 'QUEUED');
    let lost = false;
    source.onReplay = () => {
      if (!lost) source.lost();
      lost = true;
    };
    const sub = new ApplicationFeed(source).subscribe(ctx, { after: '0-0' });
    expect(await take(sub, 1)).toEqual(['a1:QUEUED@1000-1']);
    // After that replay's read, while the connection is down: in the stream only.
    source.publish('a2', 'QUEUED', 't1', undefined, false);
    // Heard once the connection is back, before the gap is reported.
    source.publish('a3', 'QUEUED');
    source.gap();
    expect(await take(sub, 2)).toEqual(['a2:QUEUED@1000-2', 'a3:QUEUED@1000-3']);
    source.publish('a4', 'QUEUED');
    expect(await take(sub, 1)).toEqual(['a4:QUEUED@1000-4']);
    await sub.return?.();
  });

  it('orders cursors numerically', () => {
    expect(['5-10', '5-9', '10-0', '9-99'].sort(compareCursors)).toEqual(['5-9', '5-10', '9-99', '10-0']);
  });
});
