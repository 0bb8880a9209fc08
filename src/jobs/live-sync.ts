import type { Logger } from '../lib/logger.js';
import type { LiveSyncOutcome, LiveSyncService } from '../services/live-ops/live-sync.service.js';

export interface LiveSyncLoopOptions {
  /** Merchants claimed (and synced at once) per round. */
  batch: number;
  /** Wait between rounds when nothing more was due. */
  idleMs: number;
  /** How often open merchants are enrolled (and closed ones dropped). */
  enrollEveryMs: number;
}

export const DEFAULT_LIVE_SYNC_LOOP: LiveSyncLoopOptions = { batch: 4, idleMs: 1_000, enrollEveryMs: 60_000 };

export interface LiveSyncLoop {
  /** One round: enroll when due, claim up to `batch` due merchants and sync them. Answers the outcomes. */
  runOnce(): Promise<LiveSyncOutcome[]>;
  /** Stops claiming and waits for the round in flight. */
  close(): Promise<void>;
}

/**
 * The sync loop of a worker (ROLE=worker or all): rounds of claim-and-sync, back to back while
 * merchants are due, `idleMs` apart otherwise. Which merchant is due when is the service's
 * decision (LIVE_SYNC_PACE); the timers here only pace the polling of live_sync_state.
 */
export function startLiveSyncLoop(
  sync: LiveSyncService,
  logger: Logger,
  options: Partial<LiveSyncLoopOptions> & { onSynced?: (outcome: LiveSyncOutcome) => void } = {},
  autostart = true,
): LiveSyncLoop {
  const o = { ...DEFAULT_LIVE_SYNC_LOOP, ...options };
  let enrolledAt = Number.NEGATIVE_INFINITY;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  let running: Promise<void> | undefined;

  const runOnce = async (): Promise<LiveSyncOutcome[]> => {
    if (performance.now() - enrolledAt >= o.enrollEveryMs) {
      await sync.enroll();
      enrolledAt = performance.now();
    }
    const claims = await sync.claim(o.batch);
    const settled = await Promise.allSettled(claims.map((c) => sync.syncClaimed(c)));
    const outcomes: LiveSyncOutcome[] = [];
    settled.forEach((s, i) => {
      if (s.status === 'fulfilled') {
        outcomes.push(s.value);
        o.onSynced?.(s.value);
      }
      // The lease runs out and the merchant is claimed again: a bounded retry, logged each time.
      else logger.error({ err: s.reason, tenantId: claims[i]?.tenantId, appId: claims[i]?.appId }, 'live sync failed');
    });
    return outcomes;
  };

  const loop = async () => {
    while (!closed) {
      let claimed = 0;
      try {
        claimed = (await runOnce()).length;
      } catch (err) {
        logger.warn({ err }, 'live sync round failed');
      }
      if (closed || claimed >= o.batch) continue;
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, o.idleMs);
        timer.unref();
      });
    }
  };
  if (autostart) running = loop();

  return {
    runOnce,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      wake?.();
      await running;
    },
  };
}
