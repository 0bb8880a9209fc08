import type { Logger } from './logger.js';

/**
 * Awaits a step of a shutdown (or any drain) and, while it runs, says every `everyMs` which
 * step is still running and what it waits for (`detail`): a drain that hangs names itself
 * before a supervisor's SIGKILL ends the process.
 */
export async function whileSlow<T>(
  logger: Logger,
  step: string,
  run: () => Promise<T> | T,
  detail?: () => Record<string, unknown>,
  everyMs = 5_000,
): Promise<T> {
  const started = Date.now();
  const timer = setInterval(() => logger.warn({ step, ms: Date.now() - started, ...detail?.() }, 'shutdown step still running'), everyMs);
  timer.unref();
  try {
    return await run();
  } finally {
    clearInterval(timer);
  }
}
