/**
 * A console's first steps against wxlive-gateway, with typed documents from GraphQL Code Generator
 * (gql/ is generated from ../../schema.graphql: `npm run codegen`):
 * apply for a merchant, page through the tenant's applications, then follow that application live
 * over graphql-ws until it reaches a final status.
 *
 *   WXLIVE_API_KEY=wxl_... WXLIVE_APP_ID=wx0123456789abcdef npx tsx examples/console/main.ts
 *
 * WXLIVE_URL (default http://127.0.0.1:4000/graphql) and WXLIVE_PAGE_SIZE (default 20) are optional.
 * Keep API keys on a server: this is a back-office script, not browser code.
 */
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { graphql } from './gql/gql.js';
import type { ApplicationsQuery, ApplicationUpdatedSubscription, TypedDocumentString } from './gql/graphql.js';

const ApplyLive = graphql(`
  mutation ApplyLive($input: ApplyLiveInput!) {
    applyLive(input: $input) {
      application {
        id
        appId
        status
      }
      userErrors {
        code
        message
      }
    }
  }
`);

const Applications = graphql(`
  query Applications($first: Int, $after: String) {
    liveApplications(first: $first, after: $after) {
      totalCount
      edges {
        node {
          id
          appId
          status
          errorCode
          updatedAt
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

const ApplicationUpdated = graphql(`
  subscription ApplicationUpdated($id: ID) {
    liveApplicationUpdated(id: $id) {
      id
      status
      errorCode
      errmsg
      cursor
    }
  }
`);

/** Statuses an application does not leave. */
const FINAL = new Set<string>(['OPENED', 'REJECTED', 'FAILED', 'CANCELLED', 'EXPIRED']);

const url = process.env.WXLIVE_URL ?? 'http://127.0.0.1:4000/graphql';
const apiKey = required('WXLIVE_API_KEY');
const appId = required('WXLIVE_APP_ID');
const pageSize = Number(process.env.WXLIVE_PAGE_SIZE ?? 20);

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    console.error(`examples/console: set ${name} (see the comment at the top of main.ts).`);
    process.exit(2);
  }
  return value;
}

/** POSTs one typed operation: its variables and result are typed by the document. */
async function request<TResult, TVariables>(document: TypedDocumentString<TResult, TVariables>, variables: TVariables): Promise<TResult> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({ query: document.toString(), variables }),
  });
  const body = (await res.json()) as { data?: TResult | null; errors?: { message: string; extensions?: { code?: string } }[] };
  if (body.errors?.length || !body.data) {
    throw new Error(`GraphQL ${res.status}: ${(body.errors ?? []).map((e) => `${e.extensions?.code ?? ''} ${e.message}`).join('; ')}`);
  }
  return body.data;
}

async function main(): Promise<void> {
  const applied = await request(ApplyLive, { input: { appId } });
  for (const e of applied.applyLive.userErrors) console.log(`applyLive refused: ${e.code} ${e.message}`);
  const application = applied.applyLive.application;
  if (!application) process.exit(1);
  console.log(`applied: ${application.id} ${application.appId} ${application.status}`);

  let after: string | null = null;
  let page = 0;
  for (;;) {
    const { liveApplications }: ApplicationsQuery = await request(Applications, { first: pageSize, after });
    page++;
    if (page === 1) console.log(`applications: ${liveApplications.totalCount}`);
    for (const { node } of liveApplications.edges) {
      console.log(`page ${page}: ${node.id} ${node.appId} ${node.status}${node.errorCode ? ` ${node.errorCode}` : ''}`);
    }
    if (!liveApplications.pageInfo.hasNextPage) break;
    after = liveApplications.pageInfo.endCursor ?? null;
  }

  if (FINAL.has(application.status)) return;
  const ws = createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${apiKey}` },
  });
  try {
    const updates = ws.iterate({ query: ApplicationUpdated.toString(), variables: { id: application.id } });
    console.log(`waiting for changes of ${application.id} (Ctrl-C to stop)`);
    for await (const result of updates) {
      if (result.errors?.length) throw new Error(`subscription: ${result.errors.map((e) => e.message).join('; ')}`);
      // graphql-ws types results loosely; the document says what they hold.
      const update = (result.data as ApplicationUpdatedSubscription | undefined)?.liveApplicationUpdated;
      if (!update) continue;
      console.log(`update: ${update.id} ${update.status}${update.errorCode ? ` ${update.errorCode}` : ''} cursor ${update.cursor ?? '-'}`);
      if (FINAL.has(update.status)) break;
    }
  } finally {
    await ws.dispose();
  }
}

main().catch((err: unknown) => {
  console.error(`examples/console: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
