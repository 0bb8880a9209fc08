import type { CliIO } from './output.js';

const WIDTH = 30;

/**
 * A progress bar on stderr. On a terminal it redraws one line with `\r`; elsewhere (CI logs,
 * tests) it prints one plain line per update, so logs stay readable and stdout stays clean.
 */
export class Progress {
  private label = '';
  private total = 0;
  private drawn = false;

  constructor(
    private readonly stream: CliIO['stderr'],
    private readonly enabled: boolean,
  ) {}

  start(label: string, total: number): void {
    this.label = label;
    this.total = total;
    this.update(0);
  }

  update(done: number): void {
    if (!this.enabled) return;
    const pct = this.total === 0 ? 100 : Math.floor((done / this.total) * 100);
    if (this.stream.isTTY) {
      const filled = Math.round((pct / 100) * WIDTH);
      const bar = `${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}`;
      this.stream.write(`\r\x1b[K${this.label} [${bar}] ${String(pct).padStart(3)}% ${done}/${this.total}`);
      this.drawn = true;
    } else if (done > 0 || this.total === 0) {
      this.stream.write(`${this.label}: ${done}/${this.total} (${pct}%)\n`);
    }
  }

  /** Ends the bar's line so what follows starts on a fresh one. */
  finish(): void {
    if (this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}
