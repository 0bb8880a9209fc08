import { readFileSync } from 'node:fs';
import { buildSchema } from 'graphql';
import { expect } from 'vitest';

/** What tenant A (the victim) owns; tenant B aims every operation at these. */
export interface Victim {
  tenantId: string;
  tenantName: string;
  /** Both merchants have a QUEUED application. */
  appIds: [string, string];
  applicationIds: [string, string];
  authorizerIds: [string, string];
  /** The idempotency key A used for `appIds[0]`. */
  idempotencyKey: string;
  /** Cursors A was given: a liveApplications edge, an authorizers edge, a change-feed delivery. */
  applicationsCursor: string;
  authorizersCursor: string;
  feedCursor: string;
  /** The authorizer token the gateway holds for `appIds[0]`. */
  authorizerToken: string;
  /** A's webhook endpoint, and a delivery in its log. */
  webhookEndpointId: string;
  webhookDeliveryId: string;
  /** A room and a good in the live mirror of `appIds[0]` (OPENED, live open). */
  roomId: number;
  goodsId: number;
  /** One of A's API keys (its first). */
  apiKeyId: string;
}

export interface Attacker {
  tenantId: string;
}

export type OperationType = 'query' | 'mutation' | 'subscription';

export type Scope = 'read' | 'write' | 'token' | 'admin';

/**
 * One root field of the schema, as tenant B calls it with tenant A's ids. `checkForeign` gets the
 * field's value (for a subscription: every value delivered) and asserts B saw nothing of A.
 */
export interface OperationCase {
  field: string;
  type: OperationType;
  document: string;
  variables(victim: Victim): Record<string, unknown>;
  checkForeign(value: unknown, victim: Victim, attacker: Attacker): void;
  /** The scope the field needs when not its operation type's (mutations write, the rest read). */
  scope?: Scope;
  /** The error codes B's answer carries (default none): fields that fail rather than answer null. */
  errors?: readonly string[];
}

/** The scope a key needs to run the operation. */
export function neededScope(op: OperationCase): Scope {
  return op.scope ?? (op.type === 'mutation' ? 'write' : 'read');
}

type Payload = { application: { id: string } | null; userErrors: { code: string }[] };

const codes = (errors: { code: string }[]) => errors.map((e) => e.code);

export const OPERATIONS: readonly OperationCase[] = [
  {
    field: 'applyLive',
    type: 'mutation',
    document: `mutation($appId: String!, $key: String) {
      applyLive(input: { appId: $appId, idempotencyKey: $key }) { application { id appId status } userErrors { code field } }
    }`,
    // A's idempotency key must not answer A's application (nor IDEMPOTENCY_CONFLICT, which would tell it exists).
    variables: (v) => ({ appId: v.appIds[0], key: v.idempotencyKey }),
    checkForeign(value) {
      const payload = value as Payload;
      expect(payload.application).toBeNull();
      expect(codes(payload.userErrors)).toEqual(['AUTHORIZER_NOT_FOUND']);
    },
  },
  {
    field: 'applyLiveBatch',
    type: 'mutation',
    document: `mutation($appIds: [String!]!) {
      applyLiveBatch(appIds: $appIds) { results { appId application { id status } userErrors { code } } userErrors { code } }
    }`,
    variables: (v) => ({ appIds: [...v.appIds] }),
    checkForeign(value, victim) {
      const payload = value as { results: ({ appId: string } & Payload)[]; userErrors: { code: string }[] };
      expect(payload.userErrors).toEqual([]);
      expect(payload.results.map((r) => r.appId)).toEqual([...victim.appIds]);
      for (const r of payload.results) {
        expect(r.application).toBeNull();
        expect(codes(r.userErrors)).toEqual(['AUTHORIZER_NOT_FOUND']);
      }
    },
  },
  {
    field: 'cancelLiveApplication',
    type: 'mutation',
    document: 'mutation($id: ID!) { cancelLiveApplication(id: $id) { application { id status } userErrors { code field } } }',
    variables: (v) => ({ id: v.applicationIds[0] }),
    checkForeign(value) {
      const payload = value as Payload;
      expect(payload.application).toBeNull();
      expect(codes(payload.userErrors)).toEqual(['NOT_FOUND']);
    },
  },
  {
    field: 'importAuthorizers',
    type: 'mutation',
    document: `mutation($input: [ImportAuthorizerInput!]!) {
      importAuthorizers(input: $input) { results { appId authorizer { id appId status } userErrors { code } } userErrors { code } }
    }`,
    // Several providers may serve one Mini Program: B gets a row of its own, A's stays as it was.
    variables: (v) => ({ input: [{ appId: v.appIds[0], refreshToken: 'attacker-refresh-token', permissionSets: [52] }] }),
    checkForeign(value, victim) {
      const payload = value as { results: { appId: string; authorizer: { id: string } | null; userErrors: unknown[] }[] };
      const [result] = payload.results;
      expect(result?.userErrors).toEqual([]);
      expect(result?.authorizer?.id).toBeDefined();
      expect(victim.authorizerIds).not.toContain(result?.authorizer?.id);
    },
  },
  {
    field: 'createAuthorizationLink',
    type: 'mutation',
    document: 'mutation($uri: String!) { createAuthorizationLink(redirectUri: $uri) { link { url expiresAt } userErrors { code } } }',
    variables: () => ({ uri: 'https://attacker.example/callback' }),
    // The harness's pre-auth code is `preauth@<tenant id>`: the link must be made with B's component.
    checkForeign(value, victim, attacker) {
      const payload = value as { link: { url: string } | null; userErrors: unknown[] };
      expect(payload.userErrors).toEqual([]);
      expect(payload.link?.url).toContain(attacker.tenantId);
      expect(payload.link?.url).not.toContain(victim.tenantId);
    },
  },
  {
    field: 'liveApplication',
    type: 'query',
    document: 'query($id: ID!) { liveApplication(id: $id) { id appId status history { type } } }',
    variables: (v) => ({ id: v.applicationIds[0] }),
    checkForeign: (value) => expect(value).toBeNull(),
  },
  {
    field: 'liveApplications',
    type: 'query',
    document: `query($after: String, $filter: LiveApplicationFilter) {
      liveApplications(first: 100, after: $after, filter: $filter) { edges { cursor node { id appId } } pageInfo { hasNextPage } }
    }`,
    variables: (v) => ({ after: v.applicationsCursor, filter: { appId: v.appIds[1] } }),
    checkForeign: (value) => expect(value).toEqual({ edges: [], pageInfo: { hasNextPage: false } }),
  },
  {
    field: 'authorizer',
    type: 'query',
    document: 'query($appId: String!) { authorizer(appId: $appId) { id appId status permissionSets } }',
    variables: (v) => ({ appId: v.appIds[0] }),
    checkForeign: (value) => expect(value).toBeNull(),
  },
  {
    field: 'authorizers',
    type: 'query',
    document: 'query($after: String) { authorizers(first: 100, after: $after) { edges { cursor node { id appId } } pageInfo { hasNextPage } } }',
    variables: (v) => ({ after: v.authorizersCursor }),
    checkForeign(value, victim) {
      const page = value as { edges: { node: { id: string } }[] };
      for (const edge of page.edges) expect(victim.authorizerIds).not.toContain(edge.node.id);
    },
  },
  {
    field: 'quota',
    type: 'query',
    document: 'query($appId: String!) { quota(appId: $appId) { appId used remaining tenantUsed dailyLimit } }',
    variables: (v) => ({ appId: v.appIds[0] }),
    // A has spent quota on this merchant; B's counters are its own.
    checkForeign: (value, victim) => expect(value).toEqual({ appId: victim.appIds[0], used: 0, remaining: 100, tenantUsed: 0, dailyLimit: 100 }),
  },
  {
    field: 'tenant',
    type: 'query',
    document: '{ tenant { id name componentAppId } }',
    variables: () => ({}),
    checkForeign(value, victim, attacker) {
      const tenant = value as { id: string; name: string };
      expect(tenant.id).toBe(attacker.tenantId);
      expect(tenant.name).not.toBe(victim.tenantName);
    },
  },
  {
    field: 'componentAccessToken',
    type: 'query',
    scope: 'token',
    document: 'query($rejected: String) { componentAccessToken(rejectedToken: $rejected) { token expiresAt } }',
    // B reporting A's token as rejected reaches B's own cache only; B has no ticket, so no token.
    variables: (v) => ({ rejected: v.authorizerToken }),
    errors: ['COMPONENT_TICKET_MISSING'],
    checkForeign: (value) => expect(value).toBeNull(),
  },
  {
    field: 'authorizerAccessToken',
    type: 'query',
    scope: 'token',
    document: 'query($appId: String!, $rejected: String) { authorizerAccessToken(appId: $appId, rejectedToken: $rejected) { token expiresAt } }',
    // A's merchant is no merchant of B's: NOT_FOUND, as for an app id nobody has; A's token is neither shown nor dropped.
    variables: (v) => ({ appId: v.appIds[0], rejected: v.authorizerToken }),
    errors: ['NOT_FOUND'],
    checkForeign: (value) => expect(value).toBeNull(),
  },
  {
    field: 'webhookEndpoints',
    type: 'query',
    scope: 'admin',
    document: '{ webhookEndpoints { id url kind events enabled } }',
    variables: () => ({}),
    checkForeign: (value) => expect(value).toEqual([]),
  },
  {
    field: 'createWebhookEndpoint',
    type: 'mutation',
    scope: 'admin',
    document: `mutation($url: String!) {
      createWebhookEndpoint(input: { url: $url, kind: EVENTS }) { endpoint { id url } secret userErrors { code } }
    }`,
    // B's own endpoint; A's endpoints are untouched (the snapshot) and receive nothing of B's.
    variables: () => ({ url: 'https://93.184.215.14/attacker' }),
    checkForeign(value, victim) {
      const payload = value as { endpoint: { id: string } | null; secret: string | null; userErrors: { code: string }[] };
      expect(payload.userErrors).toEqual([]);
      expect(payload.endpoint?.id).not.toBe(victim.webhookEndpointId);
      expect(payload.secret).toMatch(/^whsec_/);
    },
  },
  {
    field: 'updateWebhookEndpoint',
    type: 'mutation',
    scope: 'admin',
    document: `mutation($id: ID!) {
      updateWebhookEndpoint(input: { id: $id, url: "https://93.184.215.14/stolen", enabled: false }) { endpoint { id url } userErrors { code } }
    }`,
    variables: (v) => ({ id: v.webhookEndpointId }),
    checkForeign: (value) => expect(value).toEqual({ endpoint: null, userErrors: [{ code: 'NOT_FOUND' }] }),
  },
  {
    field: 'deleteWebhookEndpoint',
    type: 'mutation',
    scope: 'admin',
    document: 'mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { deletedId userErrors { code } } }',
    variables: (v) => ({ id: v.webhookEndpointId }),
    checkForeign: (value) => expect(value).toEqual({ deletedId: null, userErrors: [{ code: 'NOT_FOUND' }] }),
  },
  {
    field: 'rotateWebhookEndpointSecret',
    type: 'mutation',
    scope: 'admin',
    document: 'mutation($id: ID!) { rotateWebhookEndpointSecret(id: $id) { endpoint { id } secret userErrors { code } } }',
    variables: (v) => ({ id: v.webhookEndpointId }),
    checkForeign: (value) => expect(value).toEqual({ endpoint: null, secret: null, userErrors: [{ code: 'NOT_FOUND' }] }),
  },
  {
    // Acts on the caller's own tenant only: B rotates its own token, A's stay as they were (the snapshot).
    field: 'updateTenantCredentials',
    type: 'mutation',
    scope: 'admin',
    document: `mutation {
      updateTenantCredentials(input: { token: "attackertoken1" }) { tenant { id name } previousCredentialsAcceptedUntil userErrors { code } }
    }`,
    variables: () => ({}),
    checkForeign(value, victim, attacker) {
      const answer = value as { tenant: { id: string; name: string }; userErrors: unknown[] };
      expect(answer.tenant.id).toBe(attacker.tenantId);
      expect(answer.tenant.name).not.toBe(victim.tenantName);
      expect(answer.userErrors).toEqual([]);
    },
  },
  {
    field: 'webhookDeliveries',
    type: 'query',
    scope: 'admin',
    document: `query($endpointId: ID) {
      webhookDeliveries(endpointId: $endpointId, first: 100) { edges { cursor node { id endpointId eventType status } } pageInfo { hasNextPage } }
    }`,
    variables: (v) => ({ endpointId: v.webhookEndpointId }),
    checkForeign: (value) => expect(value).toEqual({ edges: [], pageInfo: { hasNextPage: false } }),
  },
  {
    field: 'redeliverWebhook',
    type: 'mutation',
    scope: 'admin',
    document: 'mutation($id: ID!) { redeliverWebhook(id: $id) { delivery { id status } userErrors { code } } }',
    variables: (v) => ({ id: v.webhookDeliveryId }),
    checkForeign: (value) => expect(value).toEqual({ delivery: null, userErrors: [{ code: 'NOT_FOUND' }] }),
  },
  {
    field: 'apiKeys',
    type: 'query',
    scope: 'admin',
    document: '{ apiKeys { id prefix scopes createdAt expiresAt lastUsedAt revokedAt } }',
    variables: () => ({}),
    // B's own keys only (the answer is also searched for every id of A's).
    checkForeign(value, victim) {
      const keys = value as { id: string }[];
      expect(keys.length).toBeGreaterThan(0);
      expect(keys.map((k) => k.id)).not.toContain(victim.apiKeyId);
    },
  },
  {
    field: 'createApiKey',
    type: 'mutation',
    scope: 'admin',
    document: `mutation($expiresAt: DateTime!) {
      createApiKey(input: { scopes: ["read"], expiresAt: $expiresAt }) { apiKey { id scopes } key userErrors { code } }
    }`,
    // A key of B's own; A's keys are untouched (the snapshot).
    variables: () => ({ expiresAt: new Date(Date.now() + 86_400_000 * 365).toISOString() }),
    checkForeign(value, victim) {
      const payload = value as { apiKey: { id: string; scopes: string[] } | null; key: string | null; userErrors: unknown[] };
      expect(payload.userErrors).toEqual([]);
      expect(payload.apiKey?.id).not.toBe(victim.apiKeyId);
      expect(payload.apiKey?.scopes).toEqual(['read']);
      expect(payload.key).toMatch(/^wxl_/);
    },
  },
  {
    field: 'revokeApiKey',
    type: 'mutation',
    scope: 'admin',
    document: 'mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { id revokedAt } userErrors { code } } }',
    variables: (v) => ({ id: v.apiKeyId }),
    checkForeign: (value) => expect(value).toEqual({ apiKey: null, userErrors: [{ code: 'NOT_FOUND' }] }),
  },
  {
    field: 'liveApplicationUpdated',
    type: 'subscription',
    document: `subscription($appId: String, $id: ID, $after: String) {
      liveApplicationUpdated(appId: $appId, id: $id, after: $after) { id appId status cursor }
    }`,
    variables: (v) => ({ appId: v.appIds[1], id: v.applicationIds[1], after: v.feedCursor }),
    checkForeign: (value) => expect(value).toEqual([]),
  },
  {
    field: 'liveRoomUpdated',
    type: 'subscription',
    // From the start of the feed: B's replay reads B's live_events only, and A's merchant filters nothing in.
    document: `subscription($appId: String, $after: String) {
      liveRoomUpdated(appId: $appId, after: $after) { cursor type appId room { roomId name } }
    }`,
    variables: (v) => ({ appId: v.appIds[0], after: '0' }),
    checkForeign: (value) => expect(value).toEqual([]),
  },
  ...liveOperations(),
];

/** Live management: B names A's merchant, room and good; B's own service refuses before WeChat or the mirror. */
function liveOperations(): OperationCase[] {
  const notFound = (extra: Record<string, unknown>) => (value: unknown) => expect(value).toEqual({ ...extra, userErrors: [{ code: 'NOT_FOUND' }] });
  const room = (v: Victim) => ({
    appId: v.appIds[0],
    name: 'Stolen room',
    coverMediaId: 'media',
    shareMediaId: 'media',
    startTime: new Date(Math.ceil((Date.now() + 86_400_000) / 1000) * 1000).toISOString(),
    endTime: new Date(Math.ceil((Date.now() + 90_000_000) / 1000) * 1000).toISOString(),
    anchorName: 'Anchor',
    anchorWechat: 'anchor',
  });
  const mutation = (field: string, document: string, variables: OperationCase['variables'], empty: Record<string, unknown>): OperationCase => ({
    field,
    type: 'mutation',
    document,
    variables,
    checkForeign: notFound(empty),
  });
  return [
    {
      field: 'liveRooms',
      type: 'query',
      document: 'query($appId: String!) { liveRooms(appId: $appId, first: 100) { edges { cursor node { roomId appId name } } pageInfo { hasNextPage } } }',
      variables: (v) => ({ appId: v.appIds[0] }),
      checkForeign: (value) => expect(value).toEqual({ edges: [], pageInfo: { hasNextPage: false } }),
    },
    {
      field: 'liveRoom',
      type: 'query',
      document: 'query($appId: String!, $roomId: Int!) { liveRoom(appId: $appId, roomId: $roomId) { roomId name } }',
      variables: (v) => ({ appId: v.appIds[0], roomId: v.roomId }),
      checkForeign: (value) => expect(value).toBeNull(),
    },
    {
      field: 'liveRoomPushUrl',
      type: 'query',
      document: 'query($appId: String!, $roomId: Int!) { liveRoomPushUrl(appId: $appId, roomId: $roomId) { pushUrl userErrors { code } } }',
      variables: (v) => ({ appId: v.appIds[0], roomId: v.roomId }),
      checkForeign: notFound({ pushUrl: null }),
    },
    {
      field: 'liveRoomShareCode',
      type: 'query',
      document: 'query($appId: String!, $roomId: Int!) { liveRoomShareCode(appId: $appId, roomId: $roomId) { shareCode { cdnUrl } userErrors { code } } }',
      variables: (v) => ({ appId: v.appIds[0], roomId: v.roomId }),
      checkForeign: notFound({ shareCode: null }),
    },
    {
      field: 'liveGoods',
      type: 'query',
      document: 'query($appId: String!) { liveGoods(appId: $appId, first: 100) { edges { cursor node { goodsId name } } pageInfo { hasNextPage } } }',
      variables: (v) => ({ appId: v.appIds[0] }),
      checkForeign: (value) => expect(value).toEqual({ edges: [], pageInfo: { hasNextPage: false } }),
    },
    {
      field: 'liveRoles',
      type: 'query',
      document: 'query($appId: String!) { liveRoles(appId: $appId) { total members { username } userErrors { code } } }',
      variables: (v) => ({ appId: v.appIds[0] }),
      checkForeign: notFound({ total: 0, members: [] }),
    },
    {
      field: 'liveApiQuota',
      type: 'query',
      document: 'query($appId: String!) { liveApiQuota(appId: $appId) { group used } }',
      variables: (v) => ({ appId: v.appIds[0] }),
      checkForeign: (value) => expect(value ?? null).toBeNull(),
      errors: ['NOT_FOUND'],
    },
    {
      field: 'liveApiCalls',
      type: 'query',
      document: 'query($appId: String!) { liveApiCalls(appId: $appId) { edges { node { id endpoint } } } }',
      variables: (v) => ({ appId: v.appIds[0] }),
      checkForeign: (value) => expect(value ?? null).toBeNull(),
      errors: ['NOT_FOUND'],
    },
    mutation(
      'createLiveRoom',
      'mutation($input: CreateLiveRoomInput!) { createLiveRoom(input: $input) { room { roomId } userErrors { code } } }',
      (v) => ({ input: room(v) }),
      { room: null },
    ),
    mutation(
      'editLiveRoom',
      'mutation($input: EditLiveRoomInput!) { editLiveRoom(input: $input) { room { roomId name } userErrors { code } } }',
      (v) => ({ input: { ...room(v), roomId: v.roomId } }),
      { room: null },
    ),
    mutation(
      'deleteLiveRoom',
      'mutation($appId: String!, $roomId: Int!) { deleteLiveRoom(appId: $appId, roomId: $roomId) { deletedRoomId userErrors { code } } }',
      (v) => ({ appId: v.appIds[0], roomId: v.roomId }),
      { deletedRoomId: null },
    ),
    mutation(
      'addGoodsToLiveRoom',
      'mutation($input: AddGoodsToLiveRoomInput!) { addGoodsToLiveRoom(input: $input) { room { roomId } userErrors { code } } }',
      (v) => ({ input: { appId: v.appIds[0], roomId: v.roomId, goodsIds: [v.goodsId] } }),
      { room: null },
    ),
    mutation(
      'addLiveGoods',
      'mutation($input: AddLiveGoodsInput!) { addLiveGoods(input: $input) { goods { goodsId } userErrors { code } } }',
      (v) => ({ input: { appId: v.appIds[0], name: 'Stolen goods', coverMediaId: 'media', url: 'pages/x', priceType: 1, price: 1 } }),
      { goods: null },
    ),
    mutation(
      'updateLiveGoods',
      'mutation($input: UpdateLiveGoodsInput!) { updateLiveGoods(input: $input) { goods { goodsId price } userErrors { code } } }',
      (v) => ({ input: { appId: v.appIds[0], goodsId: v.goodsId, price: 0.01 } }),
      { goods: null },
    ),
    mutation(
      'resetLiveGoodsAudit',
      'mutation($appId: String!, $goodsId: Int!) { resetLiveGoodsAudit(appId: $appId, goodsId: $goodsId) { goods { goodsId } userErrors { code } } }',
      (v) => ({ appId: v.appIds[0], goodsId: v.goodsId }),
      { goods: null },
    ),
    mutation(
      'resubmitLiveGoodsAudit',
      'mutation($appId: String!, $goodsId: Int!) { resubmitLiveGoodsAudit(appId: $appId, goodsId: $goodsId) { goods { goodsId } userErrors { code } } }',
      (v) => ({ appId: v.appIds[0], goodsId: v.goodsId }),
      { goods: null },
    ),
    mutation(
      'deleteLiveGoods',
      'mutation($appId: String!, $goodsId: Int!) { deleteLiveGoods(appId: $appId, goodsId: $goodsId) { deletedGoodsId userErrors { code } } }',
      (v) => ({ appId: v.appIds[0], goodsId: v.goodsId }),
      { deletedGoodsId: null },
    ),
    mutation(
      'addLiveRole',
      'mutation($input: LiveRoleInput!) { addLiveRole(input: $input) { ok userErrors { code } } }',
      (v) => ({ input: { appId: v.appIds[0], username: 'intruder', role: 'ADMIN' } }),
      { ok: false },
    ),
    mutation(
      'deleteLiveRole',
      'mutation($input: LiveRoleInput!) { deleteLiveRole(input: $input) { ok userErrors { code } } }',
      (v) => ({ input: { appId: v.appIds[0], username: 'anchor', role: 'ANCHOR' } }),
      { ok: false },
    ),
    {
      field: 'liveRoomAssistants',
      type: 'query',
      document:
        'query($appId: String!, $roomId: Int!) { liveRoomAssistants(appId: $appId, roomId: $roomId) { maxCount assistants { username } userErrors { code } } }',
      variables: (v) => ({ appId: v.appIds[0], roomId: v.roomId }),
      checkForeign: notFound({ maxCount: 0, assistants: [] }),
    },
    mutation(
      'addLiveRoomAssistants',
      'mutation($input: AddLiveRoomAssistantsInput!) { addLiveRoomAssistants(input: $input) { ok userErrors { code } } }',
      (v) => ({ input: { appId: v.appIds[0], roomId: v.roomId, users: [{ username: 'intruder', nickname: 'x' }] } }),
      { ok: false },
    ),
    mutation(
      'removeLiveRoomAssistant',
      'mutation($appId: String!, $roomId: Int!) { removeLiveRoomAssistant(appId: $appId, roomId: $roomId, username: "helper") { ok userErrors { code } } }',
      (v) => ({ appId: v.appIds[0], roomId: v.roomId }),
      { ok: false },
    ),
    mutation(
      'updateLiveRoomSwitches',
      'mutation($input: UpdateLiveRoomSwitchesInput!) { updateLiveRoomSwitches(input: $input) { room { roomId } userErrors { code } } }',
      (v) => ({ input: { appId: v.appIds[0], roomId: v.roomId, banComment: true } }),
      { room: null },
    ),
    {
      field: 'liveRoomSubAnchor',
      type: 'query',
      document: 'query($appId: String!, $roomId: Int!) { liveRoomSubAnchor(appId: $appId, roomId: $roomId) { username userErrors { code } } }',
      variables: (v) => ({ appId: v.appIds[0], roomId: v.roomId }),
      checkForeign: notFound({ username: null }),
    },
    mutation(
      'setLiveRoomSubAnchor',
      'mutation($appId: String!, $roomId: Int!) { setLiveRoomSubAnchor(appId: $appId, roomId: $roomId, username: "intruder") { ok userErrors { code } } }',
      (v) => ({ appId: v.appIds[0], roomId: v.roomId }),
      { ok: false },
    ),
    mutation(
      'deleteLiveRoomSubAnchor',
      'mutation($appId: String!, $roomId: Int!) { deleteLiveRoomSubAnchor(appId: $appId, roomId: $roomId) { ok userErrors { code } } }',
      (v) => ({ appId: v.appIds[0], roomId: v.roomId }),
      { ok: false },
    ),
    mutation(
      'uploadLiveImage',
      'mutation($input: UploadLiveImageInput!) { uploadLiveImage(input: $input) { image { mediaId } userErrors { code } } }',
      (v) => ({ input: { appId: v.appIds[0], dataBase64: 'iVBORw0KGgo=' } }),
      { image: null },
    ),
  ];
}

/** Every root field of schema.graphql, as `type.field`. */
export function schemaOperations(path = 'schema.graphql'): string[] {
  const schema = buildSchema(readFileSync(path, 'utf8'));
  const roots: [OperationType, ReturnType<typeof schema.getQueryType>][] = [
    ['query', schema.getQueryType()],
    ['mutation', schema.getMutationType()],
    ['subscription', schema.getSubscriptionType()],
  ];
  return roots.flatMap(([type, root]) => Object.keys(root?.getFields() ?? {}).map((field) => `${type}.${field}`)).sort();
}

export function tableOperations(): string[] {
  return OPERATIONS.map((op) => `${op.type}.${op.field}`).sort();
}
