import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { envSchema } from '../../src/config/config.js';

describe('configuration docs', () => {
  const variables = Object.keys(envSchema.shape);
  it.each(['.env.example', 'README.md'])('%s names every variable the config reads', (file) => {
    const text = readFileSync(file, 'utf8');
    expect(variables.length).toBeGreaterThan(20);
    expect(variables.filter((name) => !text.includes(name))).toEqual([]);
  });
});
