import type { RotationSummary } from '../../services/secret-rotation.service.js';
import { EXIT } from '../cli-errors.js';
import { bool, type Command, str } from '../command.js';
import type { Output } from '../output.js';
import { Progress } from '../progress.js';

function totals(s: RotationSummary) {
  const sum = (key: 'reencrypted' | 'current' | 'changedMeanwhile' | 'unreadable') => s.columns.reduce((n, c) => n + c[key], 0);
  return { reencrypted: sum('reencrypted'), current: sum('current'), changedMeanwhile: sum('changedMeanwhile'), unreadable: sum('unreadable') };
}

function printSummary(out: Output, s: RotationSummary): void {
  out.table(
    ['COLUMN', 'ROWS', 'RE-ENCRYPTED', 'CURRENT', 'CHANGED MEANWHILE', 'UNREADABLE'],
    s.columns.map((c) => [c.column, String(c.rows), String(c.reencrypted), String(c.current), String(c.changedMeanwhile), String(c.unreadable)]),
  );
  const t = totals(s);
  out.line();
  out.line(`${t.reencrypted} secret${t.reencrypted === 1 ? '' : 's'} re-encrypted under key ${s.keyId}, ${t.current} already under it.`);
  if (t.changedMeanwhile > 0) out.line(`${t.changedMeanwhile} changed while this ran and were left as written; run it again to check them.`);
  if (s.unreadable.length > 0) {
    out.line();
    out.table(
      ['COLUMN', 'ID', 'KEY'],
      s.unreadable.map((u) => [u.column, u.id, u.keyId ?? '(not sealed)']),
    );
    if (t.unreadable > s.unreadable.length) out.line(`... and ${t.unreadable - s.unreadable.length} more`);
  }
}

export const secretsRotate: Command = {
  name: 'secrets rotate',
  synopsis: '[--batch-size N] [--quiet]',
  summary:
    'Re-encrypt every stored secret under the first key of SECRET_KEYS, in batches, beside the running gateway; run again after an interruption (done rows are skipped).',
  options: { 'batch-size': str, quiet: bool },
  async run({ args, out, runtime }) {
    const batchSize = args.int('batch-size', 1, 10_000) ?? 500;
    const rt = await runtime();
    const progress = new Progress(out.io.stderr, !args.flag('quiet'));
    let total = 0;
    const summary = await rt.services.secrets.rotate({
      batchSize,
      listener: {
        start(column, rows) {
          total = rows;
          progress.start(column, rows);
        },
        // Rows inserted during the pass are scanned too; the bar stops at 100 %.
        batch: (_column, done) => progress.update(Math.min(done, total)),
        finish: () => progress.finish(),
      },
    });
    const t = totals(summary);
    out.result({ ...summary, totals: t }, () => printSummary(out, summary));
    if (t.unreadable === 0) return EXIT.OK;
    const reasons = new Map<string, number>();
    for (const u of summary.unreadable) reasons.set(u.message, (reasons.get(u.message) ?? 0) + 1);
    out.note(`wxlive: ${t.unreadable} secret${t.unreadable === 1 ? '' : 's'} could not be opened and ${t.unreadable === 1 ? 'was' : 'were'} left as stored:`);
    for (const [message, n] of reasons) out.note(`  ${n} x ${message}`);
    return EXIT.ERROR;
  },
};
