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
  /** The operation's name when it has one. */
  operationName?: string | undefined;
  /** Which path answered: Apollo's pipeline, the compiled fast path, or the HTTP handler refusing before either (see http-handler.ts). */
  path: 'apollo' | 'fast' | 'http';
}

export type OnOperation = (report: OperationReport) => void;

/**
 * The extension point every GraphQL request over HTTP reaches once, whichever path answers it:
 * metrics, audit or usage reporting hook in here, not as Apollo plugins, which never see the
 * requests the fast path answers. This plugin reports what Apollo's pipeline answers (refusals
 * before an operation included); the fast path reports the rest itself (FastPath.served).
 */
export function operationMetricsPlugin(onOperation: OnOperation): ApolloServerPlugin<GraphqlContext> {
  const refused = async ({ error }: { error: Error }) =>
    onOperation({ type: 'none', tenantId: undefined, errorCodes: [codeOf(error)], seconds: undefined, path: 'apollo' });
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
            operationName: operation?.name?.value,
            path: 'apollo',
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

/** Several hooks as one, each called in order; a hook that throws does not keep the others from the report. */
export function allHooks(hooks: readonly OnOperation[]): OnOperation | undefined {
  if (hooks.length === 0) return undefined;
  if (hooks.length === 1) return hooks[0];
  return (report) => {
    for (const hook of hooks) {
      try {
        hook(report);
      } catch {
        // An observer's bug must not fail the request it observes.
      }
    }
  };
}
