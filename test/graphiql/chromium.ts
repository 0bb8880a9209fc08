import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const chromiumAvailable = existsSync(CHROMIUM);

/** The flags the machine notes give for headless Chromium as root on a closed network. */
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--remote-debugging-port=0',
];

type Params = Record<string, unknown>;
type Listener = (params: Params, sessionId: string | undefined) => void;

/** A minimal Chrome DevTools Protocol client over one WebSocket (flat sessions). */
class Cdp {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: Params) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Map<string, Listener[]>();

  constructor(private readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const msg = JSON.parse(String(data)) as {
        id?: number;
        result?: Params;
        error?: { message: string };
        method?: string;
        params?: Params;
        sessionId?: string;
      };
      if (msg.id !== undefined) {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.error) p?.reject(new Error(msg.error.message));
        else p?.resolve(msg.result ?? {});
      } else if (msg.method) {
        for (const l of this.listeners.get(msg.method) ?? []) l(msg.params ?? {}, msg.sessionId);
      }
    });
  }

  send(method: string, params: Params = {}, sessionId?: string): Promise<Params> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.send(JSON.stringify({ id, method, params, ...(sessionId && { sessionId }) }));
    });
  }

  on(method: string, listener: Listener): void {
    this.listeners.set(method, [...(this.listeners.get(method) ?? []), listener]);
  }
}

export interface PageEvents {
  /** Every URL the page requested (HTTP and WebSocket), data: URLs included. */
  requests: string[];
  /** Uncaught exceptions, console errors and browser log errors (CSP violations land here). */
  errors: string[];
}

export interface BrowserPage {
  events: PageEvents;
  navigate(url: string): Promise<void>;
  /** Evaluates an expression in the page (promises awaited) and returns its JSON value. */
  evaluate<T>(expression: string): Promise<T>;
}

export interface Browser {
  newPage(): Promise<BrowserPage>;
  close(): Promise<void>;
}

async function waitForFile(path: string, child: ChildProcess, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await readFile(path, 'utf8').catch(() => '');
    if (text.includes('\n')) return text;
    if (child.exitCode !== null) throw new Error(`chromium exited with ${child.exitCode} before opening DevTools`);
    if (Date.now() > deadline) throw new Error('chromium did not open DevTools in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts headless Chromium with a fresh profile and connects to its DevTools endpoint. */
export async function launchChromium(): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), 'wxlive-chromium-'));
  const child = spawn(CHROMIUM, [...FLAGS, `--user-data-dir=${profile}`, 'about:blank'], { stdio: 'ignore' });
  try {
    // Chromium writes the port it chose and the browser target's path to this file.
    const [port, path] = (await waitForFile(join(profile, 'DevToolsActivePort'), child, 20_000)).split('\n');
    const socket = new WebSocket(`ws://127.0.0.1:${port}${path}`);
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    const cdp = new Cdp(socket);
    return {
      async newPage() {
        const { targetId } = await cdp.send('Target.createTarget', { url: 'about:blank' });
        const { sessionId } = (await cdp.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
        const events: PageEvents = { requests: [], errors: [] };
        const mine = (fn: (p: Params) => void) => (p: Params, s: string | undefined) => s === sessionId && fn(p);
        cdp.on(
          'Network.requestWillBeSent',
          mine((p) => events.requests.push((p.request as { url: string }).url)),
        );
        cdp.on(
          'Network.webSocketCreated',
          mine((p) => events.requests.push(p.url as string)),
        );
        cdp.on(
          'Runtime.exceptionThrown',
          mine((p) => events.errors.push(JSON.stringify(p.exceptionDetails))),
        );
        cdp.on(
          'Runtime.consoleAPICalled',
          mine((p) => p.type === 'error' && events.errors.push(JSON.stringify(p.args))),
        );
        cdp.on(
          'Log.entryAdded',
          mine((p) => {
            const entry = p.entry as { level: string; text: string; url?: string };
            if (entry.level === 'error') events.errors.push(`${entry.text} ${entry.url ?? ''}`);
          }),
        );
        for (const domain of ['Page', 'Network', 'Runtime', 'Log']) await cdp.send(`${domain}.enable`, {}, sessionId);
        return {
          events,
          async navigate(url) {
            const loaded = new Promise<void>((resolve) =>
              cdp.on(
                'Page.loadEventFired',
                mine(() => resolve()),
              ),
            );
            await cdp.send('Page.navigate', { url }, sessionId);
            await loaded;
          },
          async evaluate<T>(expression: string) {
            const r = (await cdp.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true }, sessionId)) as {
              result: { value?: unknown };
              exceptionDetails?: { text: string; exception?: { description?: string } };
            };
            if (r.exceptionDetails) throw new Error(r.exceptionDetails.exception?.description ?? r.exceptionDetails.text);
            return r.result.value as T;
          },
        };
      },
      async close() {
        const exited = new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
        // A clean close lets Chromium take its helper processes down with it; SIGKILL is the fallback.
        await Promise.race([cdp.send('Browser.close').catch(() => {}), new Promise((r) => setTimeout(r, 2000))]);
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
        socket.close();
        await rm(profile, { recursive: true, force: true });
      },
    };
  } catch (err) {
    child.kill('SIGKILL');
    await rm(profile, { recursive: true, force: true });
    throw err;
  }
}
