import { encodeCursor, type Page } from '../services/cursor.js';

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** A keyset page as a Relay connection; cursors are the services' opaque (createdAt, id) keys. */
export function toConnection<T extends { id: string; createdAt: Date | string }>(page: Page<T>): Connection<T> {
  const edges = page.items.map((node) => ({
    cursor: encodeCursor({ createdAt: typeof node.createdAt === 'string' ? new Date(node.createdAt) : node.createdAt, id: node.id }),
    node,
  }));
  return { edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
}
