import { readFile } from 'node:fs/promises';
import { systemContext } from '../../services/context.js';
import { type BulkApplySummary, bulkApply } from '../bulk-apply.js';
import { CliError, EXIT } from '../cli-errors.js';
import { bool, type Command, str } from '../command.js';
import { merchantsFromCsv } from '../csv.js';
import type { Output } from '../output.js';
import { Progress } from '../progress.js';

/** A terminal is no place for ten thousand error lines; --json has them all. */
const MAX_ERRORS_SHOWN = 50;

function printSummary(out: Output, file: string, s: BulkApplySummary): void {
  const imported = s.imported > 0 ? ` (${s.imported} authorizer${s.imported === 1 ? '' : 's'} imported)` : '';
  out.line(`${file}: ${s.total} merchant${s.total === 1 ? '' : 's'}${imported}`);
  out.line();
  const statusRows = Object.entries(s.byStatus).map(([status, count]) => [status, String(count)]);
  out.table(['STATUS', 'COUNT'], [...statusRows, ...(s.errors.length > 0 ? [['refused', String(s.errors.length)]] : [])]);
  if (s.errors.length === 0) return;
  const byCode = new Map<string, number>();
  for (const e of s.errors) byCode.set(e.code, (byCode.get(e.code) ?? 0) + 1);
  out.line();
  out.table(
    ['ERROR', 'COUNT'],
    [...byCode].map(([code, count]) => [code, String(count)]),
  );
  out.line();
  out.table(
    ['LINE', 'APP ID', 'ERROR', 'MESSAGE'],
    s.errors.slice(0, MAX_ERRORS_SHOWN).map((e) => [String(e.line), e.appId, e.code, e.message]),
  );
  if (s.errors.length > MAX_ERRORS_SHOWN) out.line(`... and ${s.errors.length - MAX_ERRORS_SHOWN} more (--json lists them all)`);
}

export const apply: Command = {
  name: 'apply',
  synopsis: '--tenant ID --file merchants.csv [--quiet]',
  summary: 'Apply for live for every merchant in a CSV (header with app_id; refresh_token rows are imported first).',
  options: { tenant: str, file: str, quiet: bool },
  async run({ args, out, runtime }) {
    const id = args.tenantId();
    const file = args.required('file');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new CliError('FILE_UNREADABLE', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    let rows: ReturnType<typeof merchantsFromCsv>;
    try {
      rows = merchantsFromCsv(text);
    } catch (err) {
      if (err instanceof CliError) throw new CliError(err.code, `${file}: ${err.message}`);
      throw err;
    }
    if (rows.length === 0) throw new CliError('INVALID_CSV', `${file}: no merchant rows under the header`);
    const rt = await runtime({ redis: true });
    await rt.tenant(id);
    const summary = await bulkApply(rt.services, systemContext(id), rows, new Progress(out.io.stderr, !args.flag('quiet')));
    out.result(summary, () => printSummary(out, file, summary));
    return summary.errors.length === 0 ? EXIT.OK : EXIT.PARTIAL;
  },
};
