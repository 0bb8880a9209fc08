import {
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLObjectType,
  type GraphQLSchema,
  Kind,
  type OperationDefinitionNode,
  type OperationTypeNode,
  type SelectionSetNode,
} from 'graphql';
import { Extensions } from 'type-graphql';
import type { ApiKeyScope, TenantContext } from '../services/context.js';
import { forbidden } from './errors.js';

/** What a root field needs when it does not say (`@RequiresScope`): queries and subscriptions read, mutations write. */
const DEFAULT_SCOPE: Record<OperationTypeNode, ApiKeyScope> = { query: 'read', mutation: 'write', subscription: 'read' };

/**
 * Declares the scope a root field needs instead of its operation type's default. Kept in the
 * field's schema extensions, so the schema is the one table every path checks against.
 */
export function RequiresScope(scope: ApiKeyScope): ReturnType<typeof Extensions> {
  return Extensions({ scope });
}

/**
 * The scopes an operation needs: one per root field, fragments on the root type followed.
 * `__typename` and introspection fields need none. Ordered as the fields appear, without repeats.
 */
export function scopesNeeded(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode): ApiKeyScope[] {
  const root = schema.getRootType(operation.operation);
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const needed = new Set<ApiKeyScope>();
  const visited = new Set<string>();
  const walk = (set: SelectionSetNode) => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        const scope = root && fieldScope(root, selection.name.value, operation.operation);
        if (scope) needed.add(scope);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        walk(selection.selectionSet);
      } else if (!visited.has(selection.name.value)) {
        visited.add(selection.name.value);
        const fragment = fragments.get(selection.name.value);
        if (fragment) walk(fragment.selectionSet);
      }
    }
  };
  walk(operation.selectionSet);
  return [...needed];
}

function fieldScope(root: GraphQLObjectType, name: string, operation: OperationTypeNode): ApiKeyScope | undefined {
  if (name.startsWith('__')) return undefined;
  const declared = root.getFields()[name]?.extensions.scope;
  return typeof declared === 'string' ? (declared as ApiKeyScope) : DEFAULT_SCOPE[operation];
}

/** The first of `needed` the key lacks, if any. */
export function missingScope(tenant: TenantContext, needed: readonly ApiKeyScope[]): ApiKeyScope | undefined {
  return needed.find((scope) => !tenant.scopes.has(scope));
}

/**
 * Every root field of the operation must be allowed to the key, or nothing runs: FORBIDDEN (HTTP
 * 403) naming the scope that is missing. Called by every path that runs an operation: Apollo's
 * (a plugin), graphql-ws's (onSubscribe) and the HTTP fast path (through CompiledOperation.scopes).
 */
export function assertScopes(tenant: TenantContext, needed: readonly ApiKeyScope[]): void {
  const missing = missingScope(tenant, needed);
  if (missing !== undefined) throw forbidden(missing, tenant.scopes);
}

export function assertOperationAllowed(tenant: TenantContext, schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode): void {
  assertScopes(tenant, scopesNeeded(schema, document, operation));
}
