import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectEventually } from '../support/test-env.js';
import { type Browser, type BrowserPage, CHROMIUM, chromiumAvailable, launchChromium } from './chromium.js';
import { startTinyServer, type TinyServer } from './tiny-graphql-server.js';

let server: TinyServer;
beforeAll(async () => {
  server = await startTinyServer();
});
afterAll(async () => {
  await server?.close();
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${server.origin}${path}`, { headers });

describe('GraphiQL over HTTP', () => {
  it('serves the page to browsers only, with a same-origin content security policy', async () => {
    const page = await get('/graphql', { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("connect-src 'self'");
    const html = await page.text();
    // No key in the page outside the demo.
    expect(html).toContain('data-authorization=""');
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(assets).toHaveLength(8);
    for (const a of assets.filter((a) => a !== 'data:,')) expect(a).toMatch(/^\/graphiql\/assets\/[\w.-]+\?v=[0-9a-f]{16}$/);

    // Not a browser: the GraphQL route answers (here the stand-in allows POST only).
    expect((await get('/graphql', { accept: 'application/json' })).status).toBe(405);
    const post = await fetch(`${server.origin}/graphql`, {
      method: 'POST',
      headers: { accept: 'text/html', 'content-type': 'application/json', authorization: 'Bearer k' },
      body: JSON.stringify({ query: '{ whoami }' }),
    });
    expect(await post.json()).toEqual({ data: { whoami: 'Bearer k' } });
  });

  it('serves whitelisted assets with long caching, gzip and ETags, and nothing else', async () => {
    const js = await get('/graphiql/assets/graphiql.min.js?v=x', { 'accept-encoding': 'gzip' });
    expect(js.status).toBe(200);
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('content-encoding')).toBe('gzip');
    expect((await js.text()).length).toBeGreaterThan(100_000);
    const etag = js.headers.get('etag') ?? '';
    expect((await get('/graphiql/assets/graphiql.min.js', { 'if-none-match': etag })).status).toBe(304);

    for (const path of ['/graphiql/assets/package.json', '/graphiql/assets/..%2F..%2Fpackage.json', '/graphiql/assets/%2e%2e', '/graphiql/assets/__proto__']) {
      expect({ path, status: (await get(path)).status }).toEqual({ path, status: 404 });
    }
  });
});

if (!chromiumAvailable) console.warn(`GraphiQL browser tests skipped: ${CHROMIUM} is missing (run .ci/install-extras to install Debian's chromium).`);

describe.skipIf(!chromiumAvailable)(
  `GraphiQL in headless Chromium${chromiumAvailable ? '' : ` (skipped: ${CHROMIUM} is missing; run .ci/install-extras)`}`,
  () => {
    let browser: Browser;
    let page: BrowserPage;

    beforeAll(async () => {
      browser = await launchChromium();
      page = await browser.newPage();
      await page.navigate(`${server.origin}/graphql`);
    }, 60_000);
    afterAll(async () => {
      await browser?.close();
    });

    const editor = {
      query: 'document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror',
      headers: 'document.querySelector("section.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror").CodeMirror',
      result: 'document.querySelector(".result-window .CodeMirror").CodeMirror',
    };
    const set = (cm: string, value: string) => page.evaluate(`${cm}.setValue(${JSON.stringify(value)})`);
    const run = () => page.evaluate('document.querySelector(".graphiql-execute-button").click()');
    const result = () => page.evaluate<string>(`${editor.result}.getValue()`);

    it('renders GraphiQL from local files with the Authorization header prefilled', async () => {
      await expectEventually(() => page.evaluate<boolean>('Boolean(document.querySelector(".graphiql-container .graphiql-query-editor .CodeMirror"))'));
      expect(JSON.parse(await page.evaluate<string>(`${editor.headers}.getValue()`))).toEqual({ Authorization: 'Bearer <paste key>' });
      // The first screen shows this product's operations, not GraphiQL's generic welcome.
      const query = await page.evaluate<string>(`${editor.query}.getValue()`);
      expect(query).toContain('liveApplications(first: 20, after: $after)');
      expect(query).toContain('subscription { liveApplicationUpdated');
      expect(query).not.toContain('Welcome to GraphiQL');
    });

    it('runs a query over HTTP POST with the header editor’s Authorization', async () => {
      await set(editor.headers, JSON.stringify({ Authorization: 'Bearer key-one' }));
      await set(editor.query, '{ whoami }');
      // GraphiQL re-reads the document after an edit (debounced): a click right after replacing the
      // opening example may not run the new query yet. Click until the edited query is what ran.
      await expectEventually(async () => {
        await run();
        expect(JSON.parse((await result()) || 'null')).toEqual({ data: { whoami: 'Bearer key-one' } });
      });
      expect(server.httpAuthorizations).toContain('Bearer key-one');
    });

    it('runs subscriptions over graphql-ws, reconnecting when the Authorization header changes', async () => {
      await set(editor.query, 'subscription { countdown(from: 3) }');
      await run();
      await expectEventually(async () => expect(JSON.parse(await result())).toEqual({ data: { countdown: 'Bearer key-one:1' } }));
      expect(server.wsConnections).toEqual(['Bearer key-one']);

      await set(editor.headers, JSON.stringify({ Authorization: 'Bearer key-two' }));
      await run();
      await expectEventually(async () => expect(JSON.parse(await result())).toEqual({ data: { countdown: 'Bearer key-two:1' } }));
      expect(server.wsConnections).toEqual(['Bearer key-one', 'Bearer key-two']);
    });

    it('shows a refused WebSocket key as an error in the result pane', async () => {
      await set(editor.headers, JSON.stringify({ Authorization: 'Bearer revoked' }));
      await run();
      await expectEventually(async () =>
        expect(JSON.parse(await result())).toEqual({
          errors: [{ message: 'WebSocket closed: 4403 Forbidden (check the Authorization header: a valid API key is required)' }],
        }),
      );
    });

    it('made every request to its own origin, without errors or policy violations', () => {
      const origin = new URL(server.origin);
      const foreign = page.events.requests.filter((url) => !url.startsWith('data:') && new URL(url).host !== origin.host);
      expect(foreign).toEqual([]);
      const assets = new Set(page.events.requests.filter((u) => u.includes('/graphiql/assets/')).map((u) => new URL(u).pathname.split('/').pop()));
      expect([...assets].sort()).toEqual([
        'graphiql-page.css',
        'graphiql-page.js',
        'graphiql.min.css',
        'graphiql.min.js',
        'graphql-ws.min.js',
        'react-dom.production.min.js',
        'react.production.min.js',
      ]);
      expect(page.events.requests).toContain(`ws://${origin.host}/graphql`);
      expect(page.events.errors).toEqual([]);
    });
  },
);
