/**
 * A progress bar on stderr. On a terminal it redraws one line; elsewhere (CI logs, pipes) it prints a
 * line only when the whole percentage moves by 10 or the label changes, so logs stay readable.
 */
export class ProgressBar {
  private lastPrinted = -1;
  private lastLabel = '';
  private readonly tty: boolean;

  constructor(
    private readonly title: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly width = 30,
  ) {
    this.tty = Boolean(stream.isTTY);
  }

  update(done: number, total: number, label = ''): void {
    const ratio = total > 0 ? Math.min(1, done / total) : 0;
    const pct = Math.floor(ratio * 100);
    if (this.tty) {
      const filled = Math.round(ratio * this.width);
      this.stream.write(`\r${this.title} [${'#'.repeat(filled)}${'-'.repeat(this.width - filled)}] ${String(pct).padStart(3)}% ${done}/${total} ${label}\x1b[K`);
      return;
    }
    const bucket = Math.floor(pct / 10);
    if (bucket !== this.lastPrinted || label !== this.lastLabel) {
      this.lastPrinted = bucket;
      this.lastLabel = label;
      this.stream.write(`${this.title} ${pct}% ${done}/${total} ${label}\n`);
    }
  }

  finish(message: string): void {
    this.stream.write(this.tty ? `\r${this.title} ${message}\x1b[K\n` : `${this.title} ${message}\n`);
  }
}

/**
 * Several progress bars at once, one line each (one per file). On a terminal the block is redrawn in
 * place; elsewhere each bar prints like a single ProgressBar.
 */
export class MultiProgress {
  private readonly bars = new Map<string, { done: number; total: number; label: string }>();
  private drawnLines = 0;
  private readonly fallback = new Map<string, ProgressBar>();
  private readonly tty: boolean;

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly width = 30,
  ) {
    this.tty = Boolean(stream.isTTY);
  }

  update(name: string, done: number, total: number, label = ''): void {
    if (!this.tty) {
      let bar = this.fallback.get(name);
      if (!bar) this.fallback.set(name, (bar = new ProgressBar(name, this.stream, this.width)));
      bar.update(done, total, label);
      return;
    }
    this.bars.set(name, { done, total, label });
    this.redraw();
  }

  private redraw(): void {
    const nameWidth = Math.min(40, Math.max(...[...this.bars.keys()].map((k) => k.length)));
    let out = this.drawnLines > 0 ? `\x1b[${this.drawnLines}A` : '';
    for (const [name, b] of this.bars) {
      const ratio = b.total > 0 ? Math.min(1, b.done / b.total) : 0;
      const filled = Math.round(ratio * this.width);
      out += `\r${name.slice(-nameWidth).padEnd(nameWidth)} [${'#'.repeat(filled)}${'-'.repeat(this.width - filled)}] ${String(Math.floor(ratio * 100)).padStart(3)}% ${b.label}\x1b[K\n`;
    }
    this.drawnLines = this.bars.size;
    this.stream.write(out);
  }
}
