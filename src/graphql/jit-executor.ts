import type { ApolloServerOptionsWithGateway, BaseContext } from '@apollo/server';
import { type DocumentNode, type ExecutionResult, GraphQLError, type GraphQLSchema, printSchema } from 'graphql';
import { type CompiledQuery, compileQuery, isCompiledQuery } from 'graphql-jit';

type Gateway = ApolloServerOptionsWithGateway<BaseContext>['gateway'];
type Executor = NonNullable<Awaited<ReturnType<Gateway['load']>>['executor']>;

/**
 * Results already computed for a request's context by the HTTP fast path, which hands a request
 * to Apollo only when its result has errors: Apollo then formats them as always, and the executor
 * returns the result instead of running the operation a second time.
 */
export type PrecomputedResults = WeakMap<object, ExecutionResult>;

/**
 * Runs Apollo's queries and mutations with graphql-jit instead of graphql-js's interpreter, through
 * Apollo's documented `gateway` executor hook; parsing, validation, plugins and error formatting
 * stay Apollo's. Compiled operations are kept per parsed document (Apollo's document store hands
 * the same object back for the same query), so a query compiles once. Subscriptions do not come
 * here: graphql-ws runs them.
 */
/** Runs a query operation's execution as one unit of work (one tenant scope for all its resolvers, see graphql-server). */
export type QueryUnit = (context: object, execute: () => Promise<ExecutionResult>) => Promise<ExecutionResult>;

export function jitGateway(schema: GraphQLSchema, precomputed?: PrecomputedResults, queryUnit?: QueryUnit): Gateway {
  const compiled = new WeakMap<DocumentNode, Map<string, CompiledQuery | ExecutionResult>>();

  const compile = (document: DocumentNode, operationName: string | null | undefined): CompiledQuery | ExecutionResult => {
    let byName = compiled.get(document);
    if (!byName) {
      byName = new Map();
      compiled.set(document, byName);
    }
    const key = operationName ?? '';
    let entry = byName.get(key);
    if (!entry) {
      entry = compileQuery(schema, document, operationName ?? undefined);
      byName.set(key, entry);
    }
    return entry;
  };

  const execute = async (document: DocumentNode, operationName: string | null | undefined, context: object, variables: Record<string, unknown>) => {
    const query = compile(document, operationName);
    if (!isCompiledQuery(query)) return query;
    return query.query(undefined, context, variables);
  };

  const executor: Executor = async ({ document, operationName, request, context, operation }) => {
    const ready = precomputed?.get(context);
    if (ready) precomputed?.delete(context);
    const run = () => execute(document, operationName, context, request.variables ?? {});
    const result = ready ?? (await (queryUnit && operation?.operation === 'query' ? queryUnit(context, run) : run()));
    if (!result.errors) return result;
    // Without `data`, execution never started: the variables were refused.
    const badInput = !('data' in result);
    return { ...result, errors: result.errors.map((e) => toGraphQLError(e, badInput)) };
  };

  return {
    async load() {
      return { executor };
    },
    onSchemaLoadOrUpdate(callback) {
      callback({ apiSchema: schema, coreSupergraphSdl: printSchema(schema) });
      return () => {};
    },
    async stop() {},
  };
}

/**
 * graphql-jit's errors are look-alikes, not GraphQLError instances: Apollo would wrap them and
 * lose their path. Rebuilt here, only when there are errors, with path, cause and locations kept.
 */
function toGraphQLError(error: GraphQLError, badInput: boolean): GraphQLError {
  const rebuilt = new GraphQLError(error.message, {
    path: error.path ?? null,
    originalError: error.originalError ?? null,
    extensions: badInput ? { ...error.extensions, code: 'BAD_USER_INPUT' } : (error.extensions ?? {}),
  });
  // graphql-jit reports locations directly, without the AST nodes GraphQLError derives them from.
  return error.locations ? Object.assign(rebuilt, { locations: error.locations }) : rebuilt;
}
