import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');

interface Edge {
  /** Both paths relative to the repository, e.g. `src/wechat/simulator/pusher.ts`. */
  from: string;
  to: string;
}

// Static imports and re-exports (`import x from`, `import type`, `export * from`), side-effect
// imports (`import 'x'`) and dynamic `import('x')`; the project uses relative specifiers only.
const SPECIFIER = /(?:^|[;\s])(?:import|export)\s[^;'"]*?from\s*['"]([^'"]+)['"]|(?:^|[;\s])import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Every import between files of src/, found by reading the sources (no module is loaded). */
function sourceImports(): Edge[] {
  const edges: Edge[] = [];
  const files = readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  for (const file of files) {
    const from = join('src', file);
    for (const match of readFileSync(join(root, from), 'utf8').matchAll(SPECIFIER)) {
      const specifier = match[1] ?? match[2] ?? match[3] ?? '';
      if (!specifier.startsWith('.')) continue;
      const to = normalize(join(dirname(from), specifier)).replace(/\.js$/, '.ts');
      edges.push({ from, to });
    }
  }
  return edges;
}

const edges = sourceImports();
const under = (path: string, folder: string) => path.startsWith(`${folder}/`);

describe('dependency rules', () => {
  it('reads the imports it judges (the rules below are not vacuous)', () => {
    expect(edges).toContainEqual({ from: 'src/wechat/simulator/pusher.ts', to: 'src/wechat/wire/push-xml.ts' });
    expect(edges).toContainEqual({ from: 'src/graphql/schema.ts', to: 'src/resolvers/index.ts' });
    expect(edges).toContainEqual({ from: 'src/webhooks/rotating-crypt.ts', to: 'src/wechat/wire/msg-crypt.ts' });
  });

  it('keeps src/wechat (client, tokens, wire format, simulator) on src/lib alone: it knows no receiver, service, job or API', () => {
    const outward = edges.filter(({ from, to }) => under(from, 'src/wechat') && !under(to, 'src/wechat') && !under(to, 'src/lib'));
    expect(outward).toEqual([]);
  });

  it('lets only the GraphQL schema builder import resolvers', () => {
    const importers = new Set(edges.filter(({ from, to }) => under(to, 'src/resolvers') && !under(from, 'src/resolvers')).map(({ from }) => from));
    expect([...importers]).toEqual(['src/graphql/schema.ts']);
  });
});
