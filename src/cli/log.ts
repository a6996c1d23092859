import pino, { type Logger } from 'pino';

/**
 * Progress, metrics and step lines on stderr, for people and for log shippers:
 *
 * - `text` (default): every line starts with its UTC time. A terminal gets one status line redrawn
 *   in place (progress bars); it is erased before any other line is written, so a result on stdout
 *   never shares a line with a bar. A pipe or file gets plain timestamped lines (cron logs).
 * - `json` (`--log-format json`): one pino JSON object per line (`level`, `time` in ms, `msg`, plus
 *   the structured fields), written synchronously so nothing is lost when the process exits.
 *
 * Results stay on stdout and are never timestamped: they are the command's output, not a log.
 */
export type LogFormat = 'text' | 'json';
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];

export interface LogSink {
  write(s: string): void;
  readonly isTTY?: boolean;
}

export const timestamp = (now: Date): string => now.toISOString();

export class ProgressLog {
  private status = '';
  private readonly pino: Logger | undefined;

  constructor(
    readonly format: LogFormat,
    private readonly out: LogSink = process.stderr,
    private readonly now: () => Date = () => new Date(),
    /** Suppresses human lines (--json: stdout is one document, stderr stays quiet). */
    private readonly quiet = false,
  ) {
    if (format === 'json')
      this.pino = pino(
        { base: null, timestamp: pino.stdTimeFunctions.epochTime },
        out === process.stderr ? pino.destination({ fd: 2, sync: true }) : { write: (s: string) => out.write(s) },
      );
  }

  private get tty(): boolean {
    return this.format === 'text' && this.out.isTTY === true;
  }

  /** Erase the status line (a terminal only) so the next line starts clean. */
  clearStatus(): void {
    if (this.status !== '' && this.tty) this.out.write('\r\x1b[K');
    this.status = '';
  }

  /** One log line (a step, a metrics line, a warning): timestamped text or a JSON record. */
  line(msg: string, fields: Record<string, unknown> = {}, level: 'info' | 'warn' = 'info'): void {
    if (this.pino) {
      this.pino[level](fields, msg);
      return;
    }
    if (this.quiet) return;
    const redraw = this.status;
    this.clearStatus();
    this.out.write(`${timestamp(this.now())} ${msg}\n`);
    if (redraw !== '' && this.tty) this.statusLine(redraw);
  }

  /**
   * A progress line that replaces the previous one on a terminal; elsewhere it is an ordinary
   * timestamped line (the caller throttles how often).
   */
  statusLine(msg: string, fields: Record<string, unknown> = {}): void {
    if (!this.tty) {
      this.line(msg, fields);
      return;
    }
    if (this.quiet) return;
    this.out.write(`\r\x1b[K${timestamp(this.now()).slice(11, 19)} ${msg}`);
    this.status = msg;
  }

  /** End the status line for good (a terminal keeps its last state on screen). */
  endStatus(): void {
    if (this.status !== '' && this.tty) this.out.write('\n');
    this.status = '';
  }
}
