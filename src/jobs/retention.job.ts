import type { Logger } from '../lib/logger.js';
import type { InboxRetention, RetentionReport } from '../webhooks/inbox-retention.js';

/**
 * Runs the inbox and delivery-log retention now and then every `intervalMs` on each worker
 * (concurrent runs share the work: each batch skips rows another has locked). A failed run is
 * logged and tried again at the next interval; a run that stopped at its bound goes on next time.
 */
export function startRetention(retention: InboxRetention, intervalMs: number, logger: Logger): { close(): Promise<void> } {
  // Closing stops a run after its current statement (each is a short transaction): nothing waits on a long backlog.
  const stopping = new AbortController();
  const run = () =>
    retention
      .runOnce(stopping.signal)
      .then((report: RetentionReport) => {
        if (report.partitionsDropped + report.envelopesDropped + report.inboxDeleted + report.deliveriesDeleted + report.liveEventsDeleted > 0)
          logger.info(report, 'retention removed webhook data');
      })
      .catch((err: unknown) => logger.error({ err }, 'retention run failed'));
  let running: Promise<unknown> = run();
  const timer = setInterval(() => {
    running = running.then(run);
  }, intervalMs);
  timer.unref();
  return {
    async close() {
      clearInterval(timer);
      stopping.abort();
      await running;
    },
  };
}
