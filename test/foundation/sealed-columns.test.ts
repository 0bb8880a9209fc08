import { bigserial, pgTable, primaryKey, text, uuid } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import { sealedColumns } from '../../src/db/sealed-columns.js';

describe('sealed columns (what wxlive secrets rotate re-encrypts)', () => {
  it('finds every *_enc column of the schema by name, with the key to page it by', () => {
    const found = sealedColumns();
    expect(found).toContainEqual({ table: 'tenants', column: 'token_enc', primaryKey: 'id', primaryKeyType: 'uuid' });
    expect(found).toContainEqual({ table: 'component_tickets', column: 'ticket_enc', primaryKey: 'tenant_id', primaryKeyType: 'uuid' });
    expect(found.every((c) => c.column.endsWith('_enc'))).toBe(true);
  });

  it('covers a column added later without being told, and stores bigserial keys as bigint', () => {
    const later = pgTable('later', { id: bigserial('id', { mode: 'number' }).primaryKey(), apiSecretEnc: text('api_secret_enc'), note: text('note') });
    expect(sealedColumns({ later })).toEqual([{ table: 'later', column: 'api_secret_enc', primaryKey: 'id', primaryKeyType: 'bigint' }]);
  });

  it('refuses a table it could not page by one key, instead of skipping its secrets', () => {
    const pair = pgTable('pair', { a: uuid('a'), b: uuid('b'), secretEnc: text('secret_enc') }, (t) => [primaryKey({ columns: [t.a, t.b] })]);
    expect(() => sealedColumns({ pair })).toThrow(/pair has sealed columns but no one-column primary key/);
  });
});
