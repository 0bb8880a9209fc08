import { type SQL, sql } from 'drizzle-orm';
import {
  type AnyPgColumn,
  bigint,
  bigserial,
  boolean,
  check,
  customType,
  date,
  foreignKey,
  index,
  integer,
  json,
  pgPolicy,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { API_KEY_SCOPES, type ApiKeyScope } from '../services/context.js';

// Millisecond precision: JavaScript dates (and so keyset cursors) carry milliseconds; microseconds
// would make rows created in one statement straddle a page boundary and be skipped.
const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date', precision: 3 });

/** Bytes kept as they arrived (a relayed push's body must go out byte for byte). */
const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });

/**
 * Row-level security, a backstop behind the services' tenant scoping: a row is visible and
 * writable only inside a transaction scoped to its tenant (`wxlive.tenant_id`, set by inTenant)
 * or in the system scope (`wxlive.rls_bypass`, set by asSystem). See src/db/tenant-scope.ts.
 * Migration 0003 also FORCEs it, so the tables' owner is held to it too.
 */
const tenantIsolation = (table: string, tenantColumn: AnyPgColumn) => {
  // Each setting read in a scalar subquery: Postgres evaluates it once per statement (an InitPlan)
  // instead of once per row.
  const rule: SQL = sql`${tenantColumn} = (select nullif(current_setting('wxlive.tenant_id', true), '')::uuid) or (select current_setting('wxlive.rls_bypass', true)) = 'on'`;
  return pgPolicy(`${table}_tenant_isolation`, { as: 'permissive', for: 'all', to: 'public', using: rule, withCheck: rule });
};

export const tenants = pgTable(
  'tenants',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    componentAppId: text('component_app_id').notNull().unique(),
    /** Sealed with SecretBox (AES-256-GCM under SECRET_KEY), like every *_enc column. */
    componentAppSecretEnc: text('component_app_secret_enc').notNull(),
    tokenEnc: text('token_enc').notNull(),
    encodingAesKeyEnc: text('encoding_aes_key_enc').notNull(),
    /**
     * The message token and EncodingAESKey before the last change of either: pushes verifying under
     * them are accepted until `previous_credentials_until` (CREDENTIAL_OVERLAP_MINUTES after the
     * change), since WeChat switches over at a moment the gateway does not know.
     */
    previousTokenEnc: text('previous_token_enc'),
    previousEncodingAesKeyEnc: text('previous_encoding_aes_key_enc'),
    previousCredentialsUntil: ts('previous_credentials_until'),
    dailyQuotaPerApp: integer('daily_quota_per_app').notNull().default(100),
    /** null = unlimited */
    dailyQuotaPerTenant: integer('daily_quota_per_tenant'),
    callsPerSecond: integer('calls_per_second').notNull().default(10),
    /** GraphQL requests per second per API key (token bucket refill); null = RATE_LIMIT_PER_SECOND. */
    rateLimitPerSecond: integer('rate_limit_per_second'),
    /** Token bucket size per API key; null = RATE_LIMIT_BURST. */
    rateLimitBurst: integer('rate_limit_burst'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [tenantIsolation('tenants', t.id)],
);

export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    /** SHA-256 of the whole key, hex; the key itself is shown once and never stored. */
    keyHash: text('key_hash').notNull().unique(),
    prefix: text('prefix').notNull(),
    /** At least one of API_KEY_SCOPES (src/services/context.ts); migration 0006 made it from the old single `scope`. */
    scopes: text('scopes').array().$type<ApiKeyScope[]>().notNull(),
    /** A label for people ("ci", "console"); never secret. */
    name: text('name'),
    createdAt: ts('created_at').notNull().defaultNow(),
    /** null: never expires. Checked at every authentication. */
    expiresAt: ts('expires_at'),
    /** Written at most once a minute per key (see ApiKeysService), not per request. */
    lastUsedAt: ts('last_used_at'),
    revokedAt: ts('revoked_at'),
  },
  (t) => [
    index('api_keys_tenant_idx').on(t.tenantId),
    tenantIsolation('api_keys', t.tenantId),
    check(
      'api_keys_scopes_check',
      sql`cardinality(${t.scopes}) > 0 and ${t.scopes} <@ ${sql.raw(`array[${API_KEY_SCOPES.map((s) => `'${s}'`).join(', ')}]::text[]`)}`,
    ),
  ],
);

export const componentTickets = pgTable(
  'component_tickets',
  {
    tenantId: uuid('tenant_id')
      .primaryKey()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    ticketEnc: text('ticket_enc').notNull(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [tenantIsolation('component_tickets', t.tenantId)],
);

export const authorizers = pgTable(
  'authorizers',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    appId: text('app_id').notNull(),
    refreshTokenEnc: text('refresh_token_enc').notNull(),
    /** Permission set ids granted to the provider (live needs 52). */
    permissionSets: integer('permission_sets').array().notNull().default(sql`'{}'::integer[]`),
    status: text('status', { enum: ['AUTHORIZED', 'REVOKED'] })
      .notNull()
      .default('AUTHORIZED'),
    liveOpen: boolean('live_open').notNull().default(false),
    liveOpenedAt: ts('live_opened_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('authorizers_tenant_app_uq').on(t.tenantId, t.appId),
    index('authorizers_tenant_created_idx').on(t.tenantId, t.createdAt.desc(), t.id.desc()),
    tenantIsolation('authorizers', t.tenantId),
  ],
);

export const APPLICATION_STATUSES = ['QUEUED', 'SUBMITTED', 'OPENED', 'REJECTED', 'EXPIRED', 'FAILED', 'CANCELLED'] as const;
export type ApplicationStatus = (typeof APPLICATION_STATUSES)[number];
export const ACTIVE_STATUSES: readonly ApplicationStatus[] = ['QUEUED', 'SUBMITTED'];

export const liveApplications = pgTable(
  'live_applications',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    appId: text('app_id').notNull(),
    status: text('status', { enum: APPLICATION_STATUSES }).notNull().default('QUEUED'),
    idempotencyKey: text('idempotency_key'),
    errcode: integer('errcode'),
    errmsg: text('errmsg'),
    /** Our stable code for the outcome (NOT_PAID_90_DAYS, PERMISSION_NOT_GRANTED, ...). */
    errorCode: text('error_code'),
    attempts: integer('attempts').notNull().default(0),
    createdAt: ts('created_at').notNull().defaultNow(),
    submittedAt: ts('submitted_at'),
    openedAt: ts('opened_at'),
    expiresAt: ts('expires_at'),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('live_applications_idempotency_uq').on(t.tenantId, t.idempotencyKey),
    // At most one active application per tenant and merchant, enforced by the database.
    uniqueIndex('live_applications_one_active_uq').on(t.tenantId, t.appId).where(sql`${t.status} in ('QUEUED', 'SUBMITTED')`),
    index('live_applications_page_idx').on(t.tenantId, t.createdAt.desc(), t.id.desc()),
    index('live_applications_app_page_idx').on(t.tenantId, t.appId, t.createdAt.desc(), t.id.desc()),
    index('live_applications_status_idx').on(t.status, t.expiresAt),
    // A subscription's replay from Postgres: the tenant's applications changed since an instant.
    index('live_applications_changed_idx').on(t.tenantId, t.updatedAt, t.id),
    tenantIsolation('live_applications', t.tenantId),
  ],
);

export const liveApplicationEvents = pgTable(
  'live_application_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    applicationId: uuid('application_id')
      .notNull()
      .references(() => liveApplications.id, { onDelete: 'cascade' }),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    /** CREATED | ATTEMPT | STATUS | NOTE */
    type: text('type').notNull(),
    status: text('status', { enum: APPLICATION_STATUSES }),
    errcode: integer('errcode'),
    errmsg: text('errmsg'),
    latencyMs: integer('latency_ms'),
    attempt: integer('attempt'),
    message: text('message'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [index('live_application_events_app_idx').on(t.applicationId, t.id), tenantIsolation('live_application_events', t.tenantId)],
);

/**
 * Partitioned by day (migration 0012: `PARTITION BY RANGE (pushed_on)`, one partition per UTC
 * day and a default one), so retention drops a whole day at a time; the partitions and the
 * functions that make and drop them: src/db/day-partitions.ts.
 */
export const webhookInbox = pgTable(
  'webhook_inbox',
  {
    id: bigserial('id', { mode: 'number' }).notNull(),
    /**
     * The UTC day of the push's own CreateTime (the received day when it has none): the same on
     * each of WeChat's redeliveries, so the partition key can be part of the de-duplication key.
     */
    pushedOn: date('pushed_on', { mode: 'string' }).notNull(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    /** 'auth' (authorization event URL) or 'event' (message and event URL) */
    kind: text('kind', { enum: ['auth', 'event'] }).notNull(),
    appId: text('app_id'),
    eventType: text('event_type').notNull(),
    dedupKey: text('dedup_key').notNull(),
    /**
     * The decrypted XML, as received; null for pushes of types the gateway does not act on (data
     * minimisation: customer messages are kept only as WeChat's encrypted envelope, for the relay).
     */
    payload: text('payload'),
    /**
     * The request as WeChat sent it (query string without `?`, body bytes, content type), so a
     * RELAY endpoint receives it verbatim; null on rows stored before migration 0007.
     */
    rawQuery: text('raw_query'),
    rawBody: bytea('raw_body'),
    contentType: text('content_type'),
    receivedAt: ts('received_at').notNull().defaultNow(),
    processedAt: ts('processed_at'),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
  },
  (t) => [
    primaryKey({ name: 'webhook_inbox_pkey', columns: [t.id, t.pushedOn] }),
    uniqueIndex('webhook_inbox_dedup_uq').on(t.tenantId, t.dedupKey, t.pushedOn),
    index('webhook_inbox_unprocessed_idx').on(t.receivedAt).where(sql`${t.processedAt} is null`),
    // The retention job's two scans: old rows in order of arrival, and envelopes of pushes nobody acts on still kept.
    index('webhook_inbox_received_idx').on(t.receivedAt),
    index('webhook_inbox_envelope_idx').on(t.id).where(sql`${t.payload} is null and ${t.rawBody} is not null`),
    tenantIsolation('webhook_inbox', t.tenantId),
  ],
);

/**
 * The transactional outbox of the change feed: every committed change of a tenant's objects (an
 * application's transition today) is written here in the same statement as the change itself,
 * published to the Redis Stream after commit and then deleted. A row still here a few seconds
 * later belongs to a process that died between commit and publish: the outbox relay publishes it.
 */
export const changeOutbox = pgTable(
  'change_outbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    /** What changed: 'application' (a LiveApplication). */
    topic: text('topic', { enum: ['application'] }).notNull(),
    /** The changed object as the feed delivers it (json, not jsonb: key order is kept). */
    payload: json('payload').notNull(),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [index('change_outbox_created_idx').on(t.createdAt, t.id), tenantIsolation('change_outbox', t.tenantId)],
);

export const WEBHOOK_ENDPOINT_KINDS = ['RELAY', 'EVENTS'] as const;
export type WebhookEndpointKind = (typeof WEBHOOK_ENDPOINT_KINDS)[number];

/** A tenant's outbound webhook endpoint: WeChat's pushes relayed verbatim (RELAY) or the gateway's own events (EVENTS). */
export const webhookEndpoints = pgTable(
  'webhook_endpoints',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    url: text('url').notNull(),
    kind: text('kind', { enum: WEBHOOK_ENDPOINT_KINDS }).notNull(),
    /** Event types (EVENTS) or push types (RELAY) sent to it; null = all. */
    events: text('events').array(),
    enabled: boolean('enabled').notNull().default(true),
    /** Why the gateway disabled it (410 Gone, failing for 5 days); null when enabled or disabled by the tenant. */
    disabledReason: text('disabled_reason'),
    /** The signing secret (`whsec_...`), sealed with SecretBox. */
    secretEnc: text('secret_enc').notNull(),
    /** The secret before the last rotation: it signs too until `previous_secret_expires_at`. */
    previousSecretEnc: text('previous_secret_enc'),
    previousSecretExpiresAt: ts('previous_secret_expires_at'),
    /** Start of the current run of failed attempts; null after a success. */
    failingSince: ts('failing_since'),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
  },
  (t) => [
    index('webhook_endpoints_tenant_created_idx').on(t.tenantId, t.createdAt.desc(), t.id.desc()),
    index('webhook_endpoints_tenant_kind_idx').on(t.tenantId, t.kind).where(sql`${t.enabled}`),
    tenantIsolation('webhook_endpoints', t.tenantId),
  ],
);

export const WEBHOOK_DELIVERY_STATUSES = ['PENDING', 'DELIVERED', 'FAILED'] as const;
export type WebhookDeliveryStatus = (typeof WEBHOOK_DELIVERY_STATUSES)[number];

/**
 * One message for one endpoint, and the record of its attempts. Made in the transaction that
 * stores what it is about (the inbox row of a relayed push; the outbox row's deletion for an
 * event), so a committed change or stored push is never lost to webhooks. Its id is the
 * `webhook-id` header, the same on every attempt. Partitioned by day like the inbox (the
 * partitions: src/db/day-partitions.ts).
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: uuid('id').notNull().defaultRandom(),
    /** The UTC day of created_at: the daily partition (migration 0012), dropped whole by retention. */
    createdOn: date('created_on', { mode: 'string' }).notNull(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    endpointId: uuid('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    eventType: text('event_type').notNull(),
    /** What it delivers, unique per endpoint: `outbox:<id>` (an event) or `inbox:<id>` (a relayed push). */
    source: text('source').notNull(),
    /** RELAY: the push, whose stored request is sent as it came. */
    inboxId: bigint('inbox_id', { mode: 'number' }),
    /** The relayed push's partition key (with inbox_id, the foreign key to webhook_inbox). */
    inboxPushedOn: date('inbox_pushed_on', { mode: 'string' }),
    /** EVENTS: the JSON body, fixed at creation so every attempt sends the same bytes. */
    payload: text('payload'),
    status: text('status', { enum: WEBHOOK_DELIVERY_STATUSES }).notNull().default('PENDING'),
    attempts: integer('attempts').notNull().default(0),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    /** The first bytes of the last response body (bounded). */
    lastResponse: text('last_response'),
    lastAttemptAt: ts('last_attempt_at'),
    createdAt: ts('created_at').notNull(),
    deliveredAt: ts('delivered_at'),
    /** When the next attempt is due (PENDING), or until when a running attempt holds it. */
    nextAttemptAt: ts('next_attempt_at'),
  },
  (t) => [
    primaryKey({ name: 'webhook_deliveries_pkey', columns: [t.id, t.createdOn] }),
    uniqueIndex('webhook_deliveries_endpoint_source_uq').on(t.endpointId, t.source, t.createdOn),
    index('webhook_deliveries_tenant_created_idx').on(t.tenantId, t.createdAt.desc(), t.id.desc()),
    index('webhook_deliveries_endpoint_created_idx').on(t.tenantId, t.endpointId, t.createdAt.desc(), t.id.desc()),
    index('webhook_deliveries_due_idx').on(t.nextAttemptAt).where(sql`${t.status} = 'PENDING'`),
    index('webhook_deliveries_inbox_idx').on(t.inboxPushedOn, t.inboxId),
    foreignKey({
      name: 'webhook_deliveries_inbox_fk',
      columns: [t.inboxId, t.inboxPushedOn],
      foreignColumns: [webhookInbox.id, webhookInbox.pushedOn],
    }).onDelete('cascade'),
    index('webhook_deliveries_created_idx').on(t.createdAt),
    tenantIsolation('webhook_deliveries', t.tenantId),
  ],
);

// ---- Live management after OPENED (rooms, goods, roles): the audit trail, the mirror, the feed.

export const LIVE_ROOM_STATUSES = ['LIVE', 'NOT_STARTED', 'ENDED', 'BANNED', 'PAUSED', 'ERROR', 'EXPIRED'] as const;
export type LiveRoomStatus = (typeof LIVE_ROOM_STATUSES)[number];

export const LIVE_GOODS_AUDIT_STATUSES = ['NOT_SUBMITTED', 'AUDITING', 'APPROVED', 'REJECTED'] as const;
export type LiveGoodsAuditStatus = (typeof LIVE_GOODS_AUDIT_STATUSES)[number];

export const LIVE_API_CALL_OUTCOMES = ['OK', 'ERRCODE', 'FAILED', 'QUOTA_REFUSED'] as const;

/** Every live management call made for a merchant (and every one refused before WeChat for quota): who, what, WeChat's answer. */
export const liveApiCalls = pgTable(
  'live_api_calls',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    appId: text('app_id').notNull(),
    /** The WeChat endpoint's short name (WECHAT_ENDPOINTS). */
    endpoint: text('endpoint').notNull(),
    quotaGroup: text('quota_group').notNull(),
    /** The GraphQL operation or job that made it, e.g. createLiveRoom, room-sync. */
    operation: text('operation').notNull(),
    /** The API key that asked; null for the gateway's own calls (the sync loop). */
    apiKeyId: uuid('api_key_id'),
    requestId: text('request_id'),
    /** What was asked, without media bytes or tokens. */
    request: json('request').$type<Record<string, unknown>>().notNull(),
    outcome: text('outcome', { enum: LIVE_API_CALL_OUTCOMES }).notNull(),
    errcode: integer('errcode'),
    errmsg: text('errmsg'),
    latencyMs: integer('latency_ms'),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [
    index('live_api_calls_tenant_app_created_idx').on(t.tenantId, t.appId, t.createdAt.desc(), t.id.desc()),
    index('live_api_calls_quota_idx').on(t.tenantId, t.appId, t.quotaGroup, t.createdAt),
    tenantIsolation('live_api_calls', t.tenantId),
  ],
);

/** The mirror of each open merchant's rooms, as the sync loop last read them from getliveinfo. */
export const liveRooms = pgTable(
  'live_rooms',
  {
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    appId: text('app_id').notNull(),
    roomId: integer('room_id').notNull(),
    name: text('name').notNull(),
    status: text('status', { enum: LIVE_ROOM_STATUSES }).notNull(),
    /** WeChat's live_status code (101..107), kept beside the name for support. */
    liveStatus: integer('live_status').notNull(),
    startTime: ts('start_time').notNull(),
    endTime: ts('end_time').notNull(),
    anchorName: text('anchor_name').notNull(),
    coverImg: text('cover_img').notNull().default(''),
    shareImg: text('share_img').notNull().default(''),
    feedsImg: text('feeds_img').notNull().default(''),
    /** WeChat's switches and type as it lists them (live_type, close_*, is_feeds_public). */
    settings: json('settings').$type<Record<string, number>>().notNull(),
    goods: json('goods').$type<Record<string, unknown>[]>().notNull(),
    /** Set when the room left WeChat's list (deleted); the row stays for the history. */
    goneAt: ts('gone_at'),
    syncedAt: ts('synced_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('live_rooms_pk').on(t.tenantId, t.appId, t.roomId),
    index('live_rooms_tenant_app_start_idx').on(t.tenantId, t.appId, t.startTime.desc(), t.roomId.desc()),
    tenantIsolation('live_rooms', t.tenantId),
  ],
);

/** The merchant's goods as the gateway added or last read them, with their audit status. */
export const liveGoods = pgTable(
  'live_goods',
  {
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    appId: text('app_id').notNull(),
    goodsId: integer('goods_id').notNull(),
    auditId: integer('audit_id'),
    name: text('name').notNull(),
    coverImgUrl: text('cover_img_url').notNull().default(''),
    url: text('url').notNull(),
    priceType: integer('price_type').notNull(),
    /** Yuan, as WeChat takes them (two decimals). */
    price: text('price').notNull(),
    price2: text('price2'),
    auditStatus: text('audit_status', { enum: LIVE_GOODS_AUDIT_STATUSES }).notNull(),
    goneAt: ts('gone_at'),
    syncedAt: ts('synced_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('live_goods_pk').on(t.tenantId, t.appId, t.goodsId),
    index('live_goods_auditing_idx').on(t.tenantId, t.appId).where(sql`${t.auditStatus} = 'AUDITING' and ${t.goneAt} is null`),
    tenantIsolation('live_goods', t.tenantId),
  ],
);

/** Changes of rooms and goods as the mirror saw them: the `liveRoomUpdated` feed (cursor = id) and the source of their webhooks. */
export const liveEvents = pgTable(
  'live_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    appId: text('app_id').notNull(),
    /** live_room.updated or live_goods.updated. */
    type: text('type').notNull(),
    subjectId: integer('subject_id').notNull(),
    data: json('data').$type<Record<string, unknown>>().notNull(),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [
    index('live_events_tenant_id_idx').on(t.tenantId, t.id),
    // Retention deletes the oldest first (LIVE_EVENT_RETENTION_DAYS), at a cost of what it removes.
    index('live_events_created_at_idx').on(t.createdAt),
    tenantIsolation('live_events', t.tenantId),
  ],
);

/** When each open merchant's rooms are read next; claimed with a lease so each is synced by one worker at a time. */
export const liveSyncState = pgTable(
  'live_sync_state',
  {
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    appId: text('app_id').notNull(),
    nextSyncAt: ts('next_sync_at').notNull(),
    /** A worker holds it until then; past it, the claim was lost with its worker. */
    leaseUntil: ts('lease_until'),
    lastSyncedAt: ts('last_synced_at'),
    lastError: text('last_error'),
    /** WeChat calls the last sync spent. */
    lastCalls: integer('last_calls').notNull().default(0),
  },
  (t) => [
    uniqueIndex('live_sync_state_pk').on(t.tenantId, t.appId),
    index('live_sync_state_due_idx').on(t.nextSyncAt),
    tenantIsolation('live_sync_state', t.tenantId),
  ],
);
