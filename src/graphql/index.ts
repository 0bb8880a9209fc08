/**
 * The GraphQL API at `/graphql`: Apollo Server 5 behind our node:http router (queries and
 * mutations, POST and preflighted GET) and graphql-ws on the same path (subscriptions, and any
 * operation). The composition root calls `createGraphqlServer(deps)`, mounts `route`, then
 * `start(httpServer)`; `stop()` drains.
 *
 * How failures reach a client (`errors[].extensions.code`, and the HTTP status):
 * - no, unknown or revoked API key: UNAUTHENTICATED, HTTP 401 (WebSocket: closed with 4403 at
 *   connection_init; a key revoked mid-connection gets UNAUTHENTICATED per new operation);
 * - a key without the scope an operation's root field needs (mutations: write; queries and
 *   subscriptions: read; the token fields: token): FORBIDDEN naming that scope, HTTP 403, nothing runs;
 * - syntax (and documents over 10,000 tokens), validation, depth/cost/alias limits, introspection
 *   when disabled: GRAPHQL_PARSE_FAILED / GRAPHQL_VALIDATION_FAILED, HTTP 400; variables:
 *   BAD_USER_INPUT, 400;
 * - batched requests, bad JSON, CSRF-able requests: HTTP 400; body over the limit: 413
 *   PAYLOAD_TOO_LARGE; a mutation over GET: 405;
 * - expected outcomes of mutations (INVALID_APP_ID, ALREADY_OPEN, ...): `userErrors` in the
 *   payload, HTTP 200;
 * - a DomainError thrown by a service (INVALID_INPUT for a foreign cursor, INVALID_APP_ID for
 *   `quota`): its code, HTTP 200, the field null;
 * - anything else: INTERNAL_SERVER_ERROR "Internal server error (request id …)", HTTP 200 with
 *   the field null (500 when the request failed before execution); the cause is logged with the
 *   request id, never sent;
 * - a subscriber that fell more than `maxPendingPerSubscriber` applications behind:
 *   SUBSCRIBER_TOO_SLOW as the subscription's error; it resubscribes with `after`.
 */
export { ApplicationFeed, type ChangeSource, redisChangeSource, type StoreRead } from './application-feed.js';
export { type Authenticator, authenticate, authenticateKey } from './authenticate.js';
export { GraphqlContext, type GraphqlServices } from './context.js';
export { createGraphqlServer, type GraphqlServer, type GraphqlServerDeps } from './graphql-server.js';
export { assertOperationAllowed, RequiresScope, scopesNeeded } from './operation-scopes.js';
export { graphqlSchema } from './schema.js';
