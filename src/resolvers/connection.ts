import { encodeCursor, type Page } from '../services/cursor.js';

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

/**
 * A keyset page as a Relay connection; cursors are the services' opaque (createdAt, id) keys.
 * Pages go forward only (`first`/`after`): `hasPreviousPage` is true when the page starts after
 * a cursor, which Relay's spec allows for forward pagination.
 */
export function toConnection<T extends { id: string; createdAt: Date | string }>(page: Page<T>, after?: string | null): Connection<T> {
  const edges = page.items.map((node) => ({
    cursor: encodeCursor({ createdAt: typeof node.createdAt === 'string' ? new Date(node.createdAt) : node.createdAt, id: node.id }),
    node,
  }));
  return {
    edges,
    pageInfo: {
      hasNextPage: page.hasNextPage,
      hasPreviousPage: Boolean(after),
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}

/** A page keyed by something other than (createdAt, id): the service says how an item becomes its cursor. */
export function toKeysetConnection<T>(page: Page<T>, cursorOf: (item: T) => string, after?: string | null): Connection<T> {
  const edges = page.items.map((node) => ({ cursor: cursorOf(node), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: page.hasNextPage,
      hasPreviousPage: Boolean(after),
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}
