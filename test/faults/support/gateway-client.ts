import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import type { AcceptedApplication } from '../../support/ledger.js';

const APPLY = `mutation($input: ApplyLiveInput!) { applyLive(input: $input) { application { id appId status } userErrors { code message } } }`;
const APPLY_BATCH = `mutation($appIds: [String!]!) {
  applyLiveBatch(appIds: $appIds) { results { appId application { id appId status } userErrors { code message } } userErrors { code message } }
}`;
const CANCEL = `mutation($id: ID!) { cancelLiveApplication(id: $id) { application { id status } userErrors { code message } } }`;
const UPDATED = `subscription($after: String) { liveApplicationUpdated(after: $after) { id appId status cursor } }`;
const IMPORT = `mutation($input: [ImportAuthorizerInput!]!) { importAuthorizers(input: $input) { results { appId userErrors { code } } userErrors { code } } }`;

interface UserError {
  code: string;
  message: string;
}
interface ApplicationShape {
  id: string;
  appId: string;
  status: string;
  cursor?: string | null;
}

/** What one apply returned: the application the API accepted, or its user errors. */
export interface ApplyOutcome {
  appId: string;
  application: ApplicationShape | null;
  userErrors: UserError[];
}

/**
 * The provider console's side of the gateway, over its public surface: GraphQL over HTTP for
 * mutations, graphql-ws for the live feed. Every application the API accepts is kept for the ledger.
 */
export class GatewayClient {
  /** Applications the API returned, in order (an apply answered with an existing one adds nothing). */
  readonly accepted: AcceptedApplication[] = [];
  private readonly ids = new Set<string>();

  constructor(
    private readonly baseUrls: readonly string[],
    readonly tenantId: string,
    private readonly apiKey: string,
  ) {}

  private next = 0;

  async applyLive(appId: string, idempotencyKey?: string): Promise<ApplyOutcome> {
    const data = await this.request<{ applyLive: Omit<ApplyOutcome, 'appId'> }>(APPLY, { input: { appId, ...(idempotencyKey ? { idempotencyKey } : {}) } });
    const outcome = { appId, ...data.applyLive };
    this.keep([outcome]);
    return outcome;
  }

  async applyLiveBatch(appIds: readonly string[]): Promise<ApplyOutcome[]> {
    const data = await this.request<{ applyLiveBatch: { results: ApplyOutcome[]; userErrors: UserError[] } }>(APPLY_BATCH, { appIds });
    if (data.applyLiveBatch.userErrors.length > 0) throw new Error(`applyLiveBatch: ${JSON.stringify(data.applyLiveBatch.userErrors)}`);
    this.keep(data.applyLiveBatch.results);
    return data.applyLiveBatch.results;
  }

  /** The ids of a batch, failing on any user error (the fault tests apply for merchants that can apply). */
  async applyAll(appIds: readonly string[]): Promise<string[]> {
    const results = await this.applyLiveBatch(appIds);
    return results.map((r) => {
      if (!r.application) throw new Error(`applyLiveBatch refused ${r.appId}: ${JSON.stringify(r.userErrors)}`);
      return r.application.id;
    });
  }

  async cancel(id: string): Promise<{ status: string | null; userErrors: UserError[] }> {
    const data = await this.request<{ cancelLiveApplication: { application: { status: string } | null; userErrors: UserError[] } }>(CANCEL, { id });
    return { status: data.cancelLiveApplication.application?.status ?? null, userErrors: data.cancelLiveApplication.userErrors };
  }

  /** Imports merchants with their refresh tokens (up to 1000), failing on any user error. */
  async importAuthorizers(input: readonly { appId: string; refreshToken: string; permissionSets: number[] }[]): Promise<void> {
    type Payload = { importAuthorizers: { results: { appId: string; userErrors: UserError[] }[]; userErrors: UserError[] } };
    const data = await this.request<Payload>(IMPORT, { input });
    const refused = [...data.importAuthorizers.userErrors, ...data.importAuthorizers.results.flatMap((r) => r.userErrors)];
    if (refused.length > 0) throw new Error(`importAuthorizers: ${JSON.stringify(refused)}`);
  }

  /**
   * A graphql-ws subscriber of every change of this tenant's applications, on one instance, as a
   * careful console writes it: when its socket comes back after a loss it subscribes again with
   * `after:` the last cursor it received, so what was published meanwhile is replayed, not missed.
   */
  subscribe(
    baseUrl: string,
    onChange: (change: ApplicationShape) => void,
  ): { client: Client; connected: Promise<void>; reconnects: () => number; dispose(): Promise<void> } {
    const client = createClient({
      url: `${baseUrl.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${this.apiKey}` },
      retryAttempts: 1_000,
      retryWait: async () => new Promise((resolve) => setTimeout(resolve, 500)),
      shouldRetry: () => true,
      lazy: false,
    });
    let last: string | undefined;
    let connects = 0;
    let unsubscribe = () => {};
    const start = () => {
      unsubscribe();
      unsubscribe = client.subscribe<{ liveApplicationUpdated: ApplicationShape }>(
        { query: UPDATED, variables: last === undefined ? {} : { after: last } },
        {
          next: (result) => {
            const change = result.data?.liveApplicationUpdated;
            if (!change) return;
            if (change.cursor) last = change.cursor;
            onChange(change);
          },
          error: () => {},
          complete: () => {},
        },
      );
    };
    const connected = new Promise<void>((resolve) => client.on('connected', () => resolve()));
    client.on('connected', () => {
      connects++;
      if (connects > 1) start();
    });
    start();
    const dispose = () => unsubscribe();
    return {
      client,
      connected,
      reconnects: () => Math.max(0, connects - 1),
      async dispose() {
        dispose();
        // A client retrying a closed server rejects its disposal with that connection's error.
        await Promise.resolve(client.dispose()).catch(() => {});
      },
    };
  }

  private keep(outcomes: readonly ApplyOutcome[]): void {
    for (const o of outcomes) {
      const a = o.application;
      if (a && !this.ids.has(a.id)) {
        this.ids.add(a.id);
        this.accepted.push({ tenantId: this.tenantId, appId: a.appId, id: a.id });
      }
    }
  }

  /** A console's page read: the newest applications (the soak's GraphQL read load). */
  async readPage(first = 20): Promise<number> {
    const data = await this.request<{ liveApplications: { edges: unknown[] } }>(
      'query($first: Int) { liveApplications(first: $first) { edges { node { id status history { status } } } } }',
      {
        first,
      },
    );
    return data.liveApplications.edges.length;
  }

  private async request<T>(query: string, variables: Record<string, unknown>): Promise<T> {
    const base = this.baseUrls[this.next++ % this.baseUrls.length];
    // A console gives up on an answer that takes 30 s: a hang is an error, not a stall of the caller.
    const response = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.apiKey}` },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(30_000),
    }).catch((err: unknown) => {
      throw new Error(`${base}: ${query.slice(0, 40)}…: ${err instanceof Error ? err.message : String(err)}`);
    });
    const body = (await response.json()) as { data?: T | null; errors?: { message: string }[] };
    if (!body.data) throw new Error(`GraphQL ${response.status}: ${JSON.stringify(body.errors ?? body)}`);
    return body.data;
  }
}
