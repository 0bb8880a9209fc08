// GraphiQL for wxlive-gateway: queries and mutations over HTTP POST, subscriptions over
// graphql-ws, both authenticated with the Authorization header typed into GraphiQL's header
// editor. Served from the gateway itself (no CDN): React, ReactDOM, graphqlWs and GraphiQL are
// the UMD globals loaded before this file.
(() => {
  'use strict';

  const root = document.getElementById('graphiql');
  const endpoint = new URL(root.dataset.endpoint || '/graphql', location.href);
  const wsUrl = `${endpoint.protocol === 'https:' ? 'wss:' : 'ws:'}//${endpoint.host}${endpoint.pathname}`;
  // The demo passes its own key (data-authorization); everywhere else the user pastes one.
  const DEFAULT_HEADERS = JSON.stringify({ Authorization: root.dataset.authorization || 'Bearer <paste key>' }, null, 2);
  // The first screen: this product's own operations, runnable once a key is in the Headers tab.
  const DEFAULT_QUERY = [
    '# wxlive-gateway. Put an API key in the Headers tab below ("Authorization": "Bearer <key>"),',
    '# then run. The docs (book icon, left) describe every type; completion works as you type.',
    '#',
    '# Also try, in place of the query below:',
    '#   subscription { liveApplicationUpdated { id appId status errorCode updatedAt cursor } }',
    '#     (every change of your applications, live; resume with after: <a cursor you received>)',
    '#   { quota(appId: "wx...") { used remaining resetsAt liveGrantsPaused liveGrantsPausedUntil } }',
    '',
    '# The applications page: newest first, 20 at a time (pass pageInfo.endCursor as $after).',
    'query Applications($after: String) {',
    '  liveApplications(first: 20, after: $after) {',
    '    edges { node { id appId status errorCode errcode errmsg updatedAt history { type status message at } } }',
    '    pageInfo { hasNextPage endCursor }',
    '  }',
    '}',
    '',
  ].join('\n');

  /** The header editor's value for `name`, whatever its case. */
  function header(headers, name) {
    for (const [key, value] of Object.entries(headers || {})) {
      if (key.toLowerCase() === name && typeof value === 'string') return value;
    }
    return undefined;
  }

  /**
   * Whether the operation to run is a subscription, read from the query text itself: GraphiQL's
   * parsed document lags behind the editor by a debounce, so a quick Ctrl-Enter would see the old one.
   */
  function isSubscription(params) {
    // Blank out strings and comments so braces and keywords inside them do not count.
    const src = (params.query || '').replace(/"""[\s\S]*?"""|"(?:[^"\\\n]|\\.)*"|#[^\n]*/g, ' ');
    const ops = [];
    let braces = 0;
    let parens = 0;
    let named = false;
    for (const m of src.matchAll(/[{}()]|\b(query|mutation|subscription|fragment)\b\s*([_A-Za-z][_0-9A-Za-z]*)?/g)) {
      const token = m[0];
      if (token === '(') parens++;
      else if (token === ')') parens--;
      else if (parens > 0) continue;
      else if (token === '{') {
        // A selection set at the top level without a keyword before it is an anonymous query.
        if (braces === 0 && !named) ops.push({ type: 'query', name: undefined });
        braces++;
        named = false;
      } else if (token === '}') braces--;
      else if (braces === 0) {
        ops.push({ type: m[1], name: m[2] });
        named = true;
      }
    }
    const operations = ops.filter((op) => op.type !== 'fragment');
    const op = params.operationName ? operations.find((o) => o.name === params.operationName) : operations[0];
    return Boolean(op && op.type === 'subscription');
  }

  // One WebSocket client per Authorization value: the key is checked when the socket connects,
  // so a new key needs a new connection.
  let ws = { authorization: undefined, client: undefined };
  function wsClient(authorization) {
    if (ws.client && ws.authorization === authorization) return ws.client;
    if (ws.client) ws.client.dispose();
    const client = graphqlWs.createClient({
      url: wsUrl,
      lazy: true,
      retryAttempts: 0,
      connectionParams: authorization === undefined ? {} : { authorization },
    });
    ws = { authorization, client };
    return client;
  }

  /** graphql-ws rejects with a CloseEvent or GraphQL errors; say what happened in GraphiQL's result pane. */
  function errorMessage(reason) {
    if (reason instanceof Error) return reason.message;
    if (reason && typeof reason.code === 'number') {
      const hint = reason.code === 4403 ? ' (check the Authorization header: a valid API key is required)' : '';
      return `WebSocket closed: ${reason.code} ${reason.reason || ''}`.trim() + hint;
    }
    if (Array.isArray(reason)) return reason.map((e) => e.message).join('\n');
    return String(reason);
  }

  function subscribe(params, authorization) {
    const iterator = wsClient(authorization).iterate(params);
    let failed = false;
    // Delegates return() straight to graphql-ws, so stopping a quiet subscription completes it at once.
    return {
      [Symbol.asyncIterator]() {
        return this;
      },
      next() {
        if (failed) return Promise.resolve({ done: true, value: undefined });
        return iterator.next().catch((reason) => {
          failed = true;
          return { done: false, value: { errors: [{ message: errorMessage(reason) }] } };
        });
      },
      return() {
        return iterator.return ? iterator.return() : Promise.resolve({ done: true, value: undefined });
      },
    };
  }

  async function post(params, headers) {
    const sent = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };
    for (const [key, value] of Object.entries(headers || {})) if (typeof value === 'string') sent[key] = value;
    const response = await fetch(endpoint, { method: 'POST', headers: sent, body: JSON.stringify(params), credentials: 'omit' });
    const text = await response.text();
    try {
      return JSON.parse(text);
    } catch {
      return { errors: [{ message: `HTTP ${response.status}: ${text.slice(0, 500)}` }] };
    }
  }

  function fetcher(params, opts) {
    const headers = (opts && opts.headers) || {};
    return isSubscription(params) ? subscribe(params, header(headers, 'authorization')) : post(params, headers);
  }

  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher,
      defaultHeaders: DEFAULT_HEADERS,
      defaultQuery: DEFAULT_QUERY,
      defaultEditorToolsVisibility: 'headers',
      isHeadersEditorEnabled: true,
      // API keys stay out of localStorage unless the user turns this on in GraphiQL's settings.
      shouldPersistHeaders: false,
    }),
  );
})();
