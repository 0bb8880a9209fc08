/** The streams a CLI run writes to (the process's own, or buffers in tests). */
export interface CliIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

/** Human tables by default; with --json exactly one JSON object on stdout. */
export class Output {
  constructor(
    readonly io: CliIO,
    readonly json: boolean,
  ) {}

  /** Writes `value` as the run's one JSON object (with --json) or calls `human` to print text. */
  result(value: unknown, human: () => void): void {
    if (this.json) this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    else human();
  }

  line(text = ''): void {
    this.io.stdout.write(`${text}\n`);
  }

  table(headers: readonly string[], rows: readonly (readonly string[])[]): void {
    this.io.stdout.write(renderTable(headers, rows));
  }

  /** Diagnostics and notes for humans, never mixed into stdout. */
  note(text: string): void {
    this.io.stderr.write(`${text}\n`);
  }
}

/** Left-aligned columns, padded to the widest cell, with a dashed rule under the header. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const format = (cells: readonly string[]) =>
    widths
      .map((w, i) => (i === widths.length - 1 ? (cells[i] ?? '') : (cells[i] ?? '').padEnd(w)))
      .join('  ')
      .trimEnd();
  const lines = [format(headers), format(widths.map((w) => '-'.repeat(w))), ...rows.map(format)];
  return `${lines.join('\n')}\n`;
}

/** `2026-01-15 04:00:00Z`: tables stay narrow and sortable. */
export function shortTime(value: Date | string | null): string {
  if (value === null) return '';
  const iso = typeof value === 'string' ? value : value.toISOString();
  return `${iso.slice(0, 19).replace('T', ' ')}Z`;
}
