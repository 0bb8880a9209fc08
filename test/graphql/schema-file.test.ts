import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { printGraphqlSchema, SCHEMA_FILE } from '../../src/schema/print-schema.js';

describe('schema.graphql', () => {
  it('is what the code builds (run `npm run schema` after changing the schema)', () => {
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(printGraphqlSchema());
  });

  it('carries the contract names', () => {
    const sdl = printGraphqlSchema();
    for (const name of [
      'applyLive(input: ApplyLiveInput!): ApplyLivePayload!',
      'cancelLiveApplication(id: ID!)',
      'liveApplication(id: ID!): LiveApplication',
      'liveApplicationUpdated(',
      'userErrors: [UserError!]!',
      'field: [String!]',
    ]) {
      expect(sdl).toContain(name);
    }
  });
});
