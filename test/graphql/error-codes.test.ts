import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { GraphQLEnumType, isObjectType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { graphqlSchema } from '../../src/graphql/schema.js';
import { ERROR_CODES } from '../../src/services/errors.js';
import { TRANSITIONS } from '../../src/services/live-application/index.js';
import { ERRCODE_RULES } from '../../src/wechat/errors.js';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('the ErrorCode enum', () => {
  const enumType = graphqlSchema().getType('ErrorCode');
  const values = enumType instanceof GraphQLEnumType ? enumType.getValues().map((v) => v.name) : [];

  it('is the closed vocabulary, value for value, each described by what to do', () => {
    expect(values.sort()).toEqual(Object.keys(ERROR_CODES).sort());
    for (const v of enumType instanceof GraphQLEnumType ? enumType.getValues() : [])
      expect(v.description).toBe(ERROR_CODES[v.name as keyof typeof ERROR_CODES]);
  });

  it('types UserError.code and LiveApplication.errorCode', () => {
    const schema = graphqlSchema();
    const fieldType = (type: string, field: string) => {
      const t = schema.getType(type);
      return isObjectType(t) ? String(t.getFields()[field]?.type) : undefined;
    };
    expect(fieldType('UserError', 'code')).toBe('ErrorCode!');
    expect(fieldType('LiveApplication', 'errorCode')).toBe('ErrorCode');
  });

  it('holds every code the services, the lifecycle and the errcode table can return', () => {
    const used = new Set<string>();
    // Codes written as literals where errors are made: userError('X', ...), new DomainError('X', ...), errorCode: 'X'.
    const literal = /(?:userError|DomainError)\(\s*'([A-Z0-9_]+)'|errorCode: '([A-Z0-9_]+)'/g;
    for (const file of sources('src')) {
      for (const m of readFileSync(file, 'utf8').matchAll(literal)) used.add((m[1] ?? m[2]) as string);
    }
    for (const rule of Object.values(TRANSITIONS)) {
      if (typeof rule.errorCode === 'string') used.add(rule.errorCode);
      else if (rule.errorCode !== null) for (const c of rule.errorCode) used.add(c);
    }
    for (const rule of ERRCODE_RULES.values()) used.add(rule.reason);
    expect(used.size).toBeGreaterThan(15);
    for (const code of used) expect(values, code).toContain(code);
  });
});
