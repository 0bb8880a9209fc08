import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import type { GraphQLError, ValidationContext, ValidationRule } from 'graphql';

export interface ProtectionLimits {
  maxDepth: number;
  maxCost: number;
  maxAliases: number;
}

// Report instead of throw: a thrown error escapes graphql's validate() (and Apollo's or
// graphql-ws's handling of it), a reported one is an ordinary validation error on both paths.
const report = [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(error)];

/**
 * Parsing stops past this many tokens (GRAPHQL_PARSE_FAILED), on HTTP and WebSocket alike. Cost
 * is counted per operation, so without it a 1 MiB document of thousands of small operations (or
 * of unused variables) took seconds of the event loop to parse and validate. Real documents stay
 * far below it; large inputs go in variables.
 */
export const PARSE_OPTIONS = { maxTokens: 10_000 } as const;

/** How deep an introspection query may nest (`__schema { types { fields { type { ofType ... } } } } }`). */
export const INTROSPECTION_MAX_DEPTH = 24;

/** Depth, cost and alias limits, as validation rules shared by the HTTP and WebSocket paths. */
export function protectionRules(limits: ProtectionLimits): ValidationRule[] {
  return [
    maxDepthRule({ n: limits.maxDepth, propagateOnRejection: false, onReject: report }),
    // Introspection is open to keyed requests, within its own depth bound: the standard introspection
    // query (GraphiQL's, codegen's) nests 21 deep; the depth rule above does not count __schema.
    maxDepthRule({ n: INTROSPECTION_MAX_DEPTH, ignoreIntrospection: false, propagateOnRejection: false, onReject: report }),
    costLimitRule({ maxCost: limits.maxCost, propagateOnRejection: false, onReject: report }),
    maxAliasesRule({ n: limits.maxAliases, propagateOnRejection: false, onReject: report }),
  ] as ValidationRule[];
}
