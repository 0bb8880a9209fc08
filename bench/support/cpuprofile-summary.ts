/**
 * Summarizes a V8 `.cpuprofile` (from `node --cpu-prof`) without a browser: the top functions by
 * self time, and folded stacks (`a;b;c <samples>`, the input of flame graph tools) for the
 * heaviest paths. `npx tsx bench/support/cpuprofile-summary.ts <file.cpuprofile> [top=25] [folded.txt]`
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export function summarize(profile: Profile, top = 25): { lines: string[]; folded: string[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const name = (n: ProfileNode) => {
    const url = n.callFrame.url.replace(/^file:\/\//, '');
    const where = url
      ? `${url.includes('node_modules') ? url.slice(url.lastIndexOf('node_modules/') + 13) : relative(process.cwd(), url)}:${n.callFrame.lineNumber + 1}`
      : '';
    return `${n.callFrame.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
  };
  const byName = new Map<string, number>();
  const folded = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    byName.set(name(node), (byName.get(name(node)) ?? 0) + us);
    const stack: string[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const n = byId.get(at);
      if (n && n.callFrame.functionName !== '(root)') stack.unshift(n.callFrame.functionName || '(anonymous)');
    }
    const key = stack.join(';');
    folded.set(key, (folded.get(key) ?? 0) + us);
  }
  const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)} %`;
  const lines = [
    `total sampled ${(total / 1000).toFixed(0)} ms`,
    ...[...byName]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([n, us]) => `${pct(us)}  ${n}`),
  ];
  return { lines, folded: [...folded].sort((a, b) => b[1] - a[1]).map(([k, us]) => `${k} ${Math.round(us)}`) };
}

if (process.argv[2]) {
  const { lines, folded } = summarize(JSON.parse(readFileSync(process.argv[2], 'utf8')) as Profile, Number(process.argv[3] ?? 25));
  process.stdout.write(`${lines.join('\n')}\n`);
  if (process.argv[4]) writeFileSync(process.argv[4], `${folded.join('\n')}\n`);
}
