/**
 * The subscribers of the fan-out figure, in a process of their own: on `{"connect": {...}}` from
 * the parent it opens that many graphql-ws subscriptions (raw `ws`, a few hundred handshakes at
 * a time), then reports; every delivery's arrival time (epoch ms, sub-millisecond) is kept, and
 * `{"report": true}` sends the count and the first and last arrival (since the last `{"mark": true}`).
 */
import { subscribe } from '../support/ws-subscriber.js';
import { announce, exitOnSignal, onParentMessage } from '../support/processes.js';

interface ConnectCommand {
  url: string;
  apiKey: string;
  query: string;
  count: number;
  parallel: number;
}

const sockets: { close(): void }[] = [];
const arrivals: number[] = [];
let errors = 0;
const now = () => performance.timeOrigin + performance.now();

async function connect(c: ConnectCommand): Promise<void> {
  let next = 0;
  const started = performance.now();
  const lane = async () => {
    while (next < c.count) {
      next++;
      try {
        sockets.push(
          await subscribe({
            url: c.url,
            apiKey: c.apiKey,
            query: c.query,
            onNext: () => arrivals.push(now()),
            onError: () => errors++,
          }),
        );
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: c.parallel }, lane));
  announce('EVENT', { connected: sockets.length, errors, seconds: (performance.now() - started) / 1000 });
}

onParentMessage((message) => {
  if (message.connect) void connect(message.connect as ConnectCommand);
  // The next figure counts from here.
  if (message.mark) {
    arrivals.length = 0;
    announce('EVENT', { marked: true });
  }
  if (message.report) {
    announce('EVENT', {
      received: arrivals.length,
      errors,
      first: arrivals.length ? Math.min(...arrivals) : null,
      last: arrivals.length ? Math.max(...arrivals) : null,
    });
  }
});
exitOnSignal(async () => {
  for (const s of sockets) s.close();
});
announce('READY', { pid: process.pid });
