import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { graphqlSchema } from '../graphql/schema.js';

export const SCHEMA_FILE = new URL('../../schema.graphql', import.meta.url);

/** The schema as committed in `schema.graphql`: sorted, so it changes only when the code does. */
export function printGraphqlSchema(): string {
  return `${printSchema(lexicographicSortSchema(graphqlSchema()))}\n`;
}

// `npm run schema` (tsx src/schema/print-schema.ts) writes the file; importing does nothing.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(SCHEMA_FILE, printGraphqlSchema());
  console.log(`wrote ${SCHEMA_FILE.pathname}`);
}
