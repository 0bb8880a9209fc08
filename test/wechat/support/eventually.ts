import { setTimeout as sleep } from 'node:timers/promises';

/** Retry `check` until it stops throwing (or `timeoutMs` passes, then rethrow its last error). */
export async function expectEventually<T>(check: () => T | Promise<T>, timeoutMs = 3000, intervalMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(intervalMs);
    }
  }
}
