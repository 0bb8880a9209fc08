import { HeaderMap } from '@apollo/server';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { ApiKeyScope } from '../services/context.js';
import { DomainError, ERROR_CODES, type ErrorCode } from '../services/errors.js';

/** Codes GraphQL machinery and Apollo give to the client's own mistakes: shown as they are. */
const CLIENT_CODES = new Set<string>([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  ...Object.keys(ERROR_CODES).filter((code) => code !== 'INTERNAL_SERVER_ERROR'),
]);

export const MASKED_MESSAGE = 'Internal server error';

export function maskedMessage(requestId: string | undefined): string {
  return requestId ? `${MASKED_MESSAGE} (request id ${requestId})` : MASKED_MESSAGE;
}

/** An error of ours, already safe to show (e.g. an internal error whose message names the request id). */
export class ExposedError extends GraphQLError {}

/** A GraphQL error with one of our codes (and an HTTP status for errors that fail a whole request). */
export function graphqlError(code: ErrorCode, message: string, httpStatus?: number): ExposedError {
  return new ExposedError(message, { extensions: httpStatus === undefined ? { code } : { code, http: { status: httpStatus } } });
}

export function unauthenticated(): ExposedError {
  return graphqlError('UNAUTHENTICATED', ERROR_CODES.UNAUTHENTICATED, 401);
}

/** UNAUTHENTICATED for a key that was valid until `expiredAt`: the client learns why, and what to do. */
export function expiredKey(expiredAt: Date): ExposedError {
  return graphqlError(
    'UNAUTHENTICATED',
    `This API key expired at ${expiredAt.toISOString()}. Ask an admin of your tenant for a new key (createApiKey, or the operator: wxlive apikey create --tenant ID --expires-at DATE) and send it as "Authorization: Bearer <key>".`,
    401,
  );
}

/**
 * RATE_LIMITED: HTTP 429 with `Retry-After`, and `retryAfter` (seconds) in the error's extensions.
 * Apollo takes the status and headers from `extensions.http` and drops it from what is sent.
 */
export function rateLimited(retryAfterSeconds: number): ExposedError {
  return new ExposedError(`Rate limited: retry after ${retryAfterSeconds} s. ${ERROR_CODES.RATE_LIMITED}`, {
    extensions: {
      code: 'RATE_LIMITED',
      retryAfter: retryAfterSeconds,
      http: { status: 429, headers: new HeaderMap([['retry-after', String(retryAfterSeconds)]]) },
    },
  });
}

/**
 * A key over its rate limit, answered by the HTTP handler before the body is parsed or any GraphQL
 * pipeline runs (graphqlHttpHandler's refuseEarly): the status, Retry-After and the one error exactly
 * as Apollo sends them for a failed context. Any other error: undefined (Apollo answers it).
 */
export function earlyRefusal(error: unknown): { status: number; headers: Record<string, string>; error: object; code: string } | undefined {
  const verdict = classifyError(error);
  if (!verdict.exposed || verdict.code !== 'RATE_LIMITED' || verdict.retryAfter === undefined) return undefined;
  return {
    status: 429,
    headers: { 'retry-after': String(verdict.retryAfter) },
    error: formatForClient({ message: verdict.message }, error),
    code: verdict.code,
  };
}

/** FORBIDDEN naming the scope the operation needs and the scopes the key holds. */
export function forbidden(needed: ApiKeyScope, held: Iterable<ApiKeyScope>): ExposedError {
  const detail = `This operation needs the ${needed} scope; this key has ${[...held].join(', ') || 'none'}.`;
  return graphqlError('FORBIDDEN', `${detail} ${ERROR_CODES.FORBIDDEN}`, 403);
}

export type ErrorVerdict = { exposed: true; code: string; message: string /** RATE_LIMITED: seconds. */; retryAfter?: number } | { exposed: false };

/**
 * The one never-throwing decision of what a client may see: our DomainErrors and deliberate
 * GraphQL errors carry their code; the client's own mistakes (syntax, validation, variables) pass;
 * anything else is an internal error, masked at the edge and logged by the caller.
 */
export function classifyError(error: unknown): ErrorVerdict {
  const original = error instanceof GraphQLError && error.originalError ? error.originalError : error;
  if (original instanceof DomainError) return { exposed: true, code: original.code, message: original.message };
  if (original instanceof ExposedError) {
    const { retryAfter } = original.extensions;
    return {
      exposed: true,
      code: codeOf(original) ?? 'INTERNAL_SERVER_ERROR',
      message: original.message,
      ...(typeof retryAfter === 'number' ? { retryAfter } : {}),
    };
  }
  // Apollo puts the code on a wrapper (ValidationError around graphql's own error): look there first.
  for (const candidate of [error, original]) {
    if (!(candidate instanceof GraphQLError)) continue;
    const code = codeOf(candidate);
    if (code !== undefined && CLIENT_CODES.has(code)) return { exposed: true, code, message: candidate.message };
  }
  return { exposed: false };
}

function codeOf(error: GraphQLError): string | undefined {
  const code = error.extensions.code;
  return typeof code === 'string' ? code : undefined;
}

/** Formats one error for the client: path and locations kept, stack traces and internals never sent. */
export function formatForClient(formatted: GraphQLFormattedError, error: unknown, requestId?: string): GraphQLFormattedError {
  const verdict = classifyError(error);
  const { message, code } = verdict.exposed ? verdict : { message: maskedMessage(requestId), code: 'INTERNAL_SERVER_ERROR' };
  return {
    message,
    ...(formatted.locations && { locations: formatted.locations }),
    ...(formatted.path && { path: formatted.path }),
    extensions: verdict.exposed && verdict.retryAfter !== undefined ? { code, retryAfter: verdict.retryAfter } : { code },
  };
}
