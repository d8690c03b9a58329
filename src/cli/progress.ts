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
