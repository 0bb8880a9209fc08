import type { FieldNode, FragmentDefinitionNode, GraphQLResolveInfo, SelectionSetNode } from 'graphql';

// Keyed by the field node: Apollo hands back the same parsed document for the same query, so
// the walk happens once per distinct query, not per request.
const cache = new WeakMap<FieldNode, Map<string, boolean>>();

/** Whether the current field's selection reaches `path` (e.g. edges → node → history), through fragments too. */
export function selects(info: Pick<GraphQLResolveInfo, 'fieldNodes' | 'fragments'>, path: readonly string[]): boolean {
  const first = info.fieldNodes[0];
  if (!first) return false;
  const key = path.join('.');
  let byPath = cache.get(first);
  const hit = byPath?.get(key);
  if (hit !== undefined) return hit;
  const found = info.fieldNodes.some((node) => reaches(node.selectionSet, path, info.fragments));
  if (!byPath) {
    byPath = new Map();
    cache.set(first, byPath);
  }
  byPath.set(key, found);
  return found;
}

function reaches(set: SelectionSetNode | undefined, path: readonly string[], fragments: Record<string, FragmentDefinitionNode>, depth = 0): boolean {
  const [head, ...rest] = path;
  if (!set || head === undefined || depth > 32) return false;
  for (const selection of set.selections) {
    if (selection.kind === 'Field') {
      if (selection.name.value === head && (rest.length === 0 || reaches(selection.selectionSet, rest, fragments, depth + 1))) return true;
    } else if (selection.kind === 'InlineFragment') {
      if (reaches(selection.selectionSet, path, fragments, depth + 1)) return true;
    } else if (reaches(fragments[selection.name.value]?.selectionSet, path, fragments, depth + 1)) {
      return true;
    }
  }
  return false;
}
