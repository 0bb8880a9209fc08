import type { ApolloServerPlugin } from '@apollo/server';
import type { GraphqlContext } from './context.js';

/** `none`: refused before an operation was known (a bad request, a refused key, a document that does not parse). */
export type OperationType = 'query' | 'mutation' | 'subscription' | 'none';

/** One GraphQL request over HTTP, as the metrics count it. */
export interface OperationReport {
  type: OperationType;
  /** The authenticated tenant; undefined when the key was missing or refused. */
  tenantId: string | undefined;
  /** `extensions.code` of each error in the answer, as the client saw it. */
  errorCodes: string[];
  /** From the authenticated start of the request to its answer; undefined when refused before it. */
  seconds: number | undefined;
}

export type OnOperation = (report: OperationReport) => void;

/**
 * Reports every request Apollo's pipeline answers, refusals before an operation included. The
 * HTTP fast path answers the rest without Apollo's hooks and reports them itself (FastPath.served),
 * so each request is reported exactly once.
 */
export function operationMetricsPlugin(onOperation: OnOperation): ApolloServerPlugin<GraphqlContext> {
  const refused = async ({ error }: { error: Error }) => onOperation({ type: 'none', tenantId: undefined, errorCodes: [codeOf(error)], seconds: undefined });
  return {
    contextCreationDidFail: refused,
    invalidRequestWasReceived: refused,
    async requestDidStart() {
      const started = performance.now();
      return {
        async willSendResponse({ contextValue, operation, response }) {
          const errors = response.body.kind === 'single' ? (response.body.singleResult.errors ?? []) : [];
          onOperation({
            type: operation?.operation ?? 'none',
            tenantId: contextValue.tenant.tenantId,
            errorCodes: errors.map(codeOf),
            seconds: (performance.now() - started) / 1000,
          });
        },
      };
    },
  };
}

function codeOf(error: object): string {
  const code = 'extensions' in error ? (error.extensions as Record<string, unknown> | undefined)?.code : undefined;
  return typeof code === 'string' ? code : 'INTERNAL_SERVER_ERROR';
}
