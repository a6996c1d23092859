/**
 * Progress for long work (backfills, ingest), on stderr so stdout stays clean for --json and pipes.
 * On a terminal: one line redrawn in place with a bar. Elsewhere (cron, CI, a pipe): a plain line
 * at most every `plainEveryMs` and at the end, so logs stay readable. Silent with --json.
 */
export interface ProgressOptions {
  readonly label: string;
  readonly total?: number;
  readonly unit?: string;
  readonly stream?: NodeJS.WriteStream;
  readonly silent?: boolean;
  readonly plainEveryMs?: number;
  readonly now?: () => number;
}

const WIDTH = 24;

export class Progress {
  private done = 0;
  private total: number | undefined;
  private lastPlain = 0;
  private readonly started: number;
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private readonly now: () => number;
  private lastLine = '';

  constructor(private readonly opts: ProgressOptions) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = this.stream.isTTY === true;
    this.now = opts.now ?? Date.now;
    this.started = this.now();
    this.total = opts.total;
  }

  /** Set the absolute position (and optionally a new total and a note such as the current date). */
  update(done: number, note = '', total?: number): void {
    this.done = done;
    if (total !== undefined) this.total = total;
    this.render(note, false);
  }

  finish(note = ''): void {
    this.render(note, true);
  }

  /** The line that would be printed; exported for tests. */
  line(note = ''): string {
    const unit = this.opts.unit ? ` ${this.opts.unit}` : '';
    const secs = Math.max(0.001, (this.now() - this.started) / 1000);
    const rate = `${Math.round(this.done / secs)}${unit}/s`;
    if (this.total !== undefined && this.total > 0) {
      const frac = Math.min(1, this.done / this.total);
      const bar = this.tty ? ` [${'#'.repeat(Math.round(frac * WIDTH)).padEnd(WIDTH, '.')}]` : '';
      return `${this.opts.label}${bar} ${this.done}/${this.total}${unit} (${Math.floor(frac * 100)}%) ${rate}${note ? ` ${note}` : ''}`;
    }
    return `${this.opts.label} ${this.done}${unit} ${rate}${note ? ` ${note}` : ''}`;
  }

  private render(note: string, final: boolean): void {
    if (this.opts.silent) return;
    const line = this.line(note);
    if (this.tty) {
      this.stream.write(`\r${line.padEnd(this.lastLine.length)}${final ? '\n' : ''}`);
      this.lastLine = line;
      return;
    }
    const t = this.now();
    if (final || t - this.lastPlain >= (this.opts.plainEveryMs ?? 2000)) {
      this.lastPlain = t;
      this.stream.write(`${line}\n`);
    }
  }
}
