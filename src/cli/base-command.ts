import { Command, Errors, Flags, type Interfaces } from '@oclif/core';
import { CONFIG_KEYS, type Config, type ConfigInput, resolveConfig } from '../config/config.js';
import { type ConfigFile, findConfigFile, loadConfigFile } from '../config/file.js';
import { CryptolambdaError, type ErrorCode, isCryptolambdaError, StoppedError } from '../core/errors.js';
import { describePending } from '../core/pending.js';
import { maskSecrets } from '../core/redact.js';
import { LOG_FORMATS, type LogFormat, ProgressLog } from './log.js';
import { colorEnabled, makeChalk } from './render.js';
import { DEFAULT_WIDTH, type TableModel, toCsv, type ViewOptions } from './table.js';

/** How long a command may take to stop cleanly after SIGINT/SIGTERM (CRYPTOLAMBDA_STOP_GRACE_MS, default 15 s). */
const stopGraceMs = (): number => {
  const v = Number(process.env.CRYPTOLAMBDA_STOP_GRACE_MS);
  return Number.isFinite(v) && v > 0 ? v : 15_000;
};

/** Stop now: one line saying why and one per piece of pending work, exit 128 + signal number. */
const forcedExit = (sig: NodeJS.Signals, after: string): never => {
  const pending = describePending();
  process.stderr.write(
    `${new Date().toISOString()} stopped by ${sig} without a clean shutdown (after ${after}); ${
      pending.length === 0 ? 'nothing was left unacknowledged' : `left unacknowledged: ${pending.join('; ')}`
    }\n`,
  );
  process.exit(sig === 'SIGINT' ? 130 : 143);
};

/** Exit codes are part of the CLI contract (README): cron and scripts branch on them. */
export const EXIT_CODES: Record<ErrorCode, number> = {
  INVALID_ARGUMENT: 2,
  INVALID_CONFIG: 2,
  INVALID_DECIMAL: 2,
  INVALID_EVENT: 2,
  BROKER_UNREACHABLE: 3,
  REDIS_UNREACHABLE: 3,
  STACK_NOT_INSTALLED: 4,
  STACK_START_FAILED: 4,
  NOT_FOUND: 5,
  CONFLICT: 6,
  /** A pipeline run or backfill ended failed (a step failed, a DQ gate, a missed deadline). */
  PIPELINE_FAILED: 7,
  /** reconcile found a mismatch or a row missing on one side. */
  RECONCILE_MISMATCH: 8,
  /** A date or query had no input data (batch without --allow-empty). */
  NO_DATA: 9,
  /** Offsets were gone from Kafka (retention, deleted records) before they were read: data loss. */
  DATA_GAP: 10,
  /** A topic's partition count breaks the contract (src/core/topics.ts); never fixed silently. */
  PARTITION_MISMATCH: 11,
  /** Stopped early by SIGTERM after a clean shutdown (130 for SIGINT, see catch). */
  STOPPED: 143,
  DECIMAL_OVERFLOW: 1,
  INTERNAL: 1,
};

/** The flags of every query command: the layout of the human output and CSV. */
export const queryFlags = {
  wide: Flags.boolean({ description: 'Every column at full precision (no 80-column fit).', helpGroup: 'OUTPUT' }),
  output: Flags.string({
    description: 'Output format: table (default) or csv (every column, exact values).',
    options: ['table', 'csv'],
    default: 'table',
    helpGroup: 'OUTPUT',
  }),
};

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<
  (typeof BaseCommand)['baseFlags'] & T['flags']
>;
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>;

/**
 * Every command: `--json` (run() returns the typed result that is printed), `--debug`, and the
 * connection flags that override CRYPTOLAMBDA_* variables. Errors become one line on stderr
 * (`Error: …` plus a hint) and a meaningful exit code; stack traces only with --debug.
 */
export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true;

  static override baseFlags = {
    debug: Flags.boolean({ description: 'Show stack traces and client logs.', helpGroup: 'GLOBAL' }),
    'log-format': Flags.string({
      description:
        'Progress and step lines on stderr: text (timestamped) or json (pino) [env: CRYPTOLAMBDA_LOG_FORMAT].',
      options: ['text', 'json'],
      helpGroup: 'GLOBAL',
    }),
    color: Flags.boolean({
      description: 'Colour on a terminal (--no-color or NO_COLOR turns it off).',
      allowNo: true,
      helpGroup: 'GLOBAL',
    }),
    'kafka-brokers': Flags.string({
      description: 'Kafka bootstrap servers, comma separated [env: CRYPTOLAMBDA_KAFKA_BROKERS].',
      helpGroup: 'GLOBAL',
    }),
    'kafka-ssl': Flags.boolean({
      description: 'TLS to the brokers [env: CRYPTOLAMBDA_KAFKA_SSL].',
      helpGroup: 'GLOBAL',
      allowNo: true,
    }),
    'kafka-ssl-ca': Flags.string({
      description: "PEM file of the brokers' CA [env: CRYPTOLAMBDA_KAFKA_SSL_CA].",
      helpGroup: 'GLOBAL',
    }),
    'kafka-sasl-mechanism': Flags.string({
      description: 'SASL: none, plain, scram-sha-256, scram-sha-512 [env: CRYPTOLAMBDA_KAFKA_SASL_MECHANISM].',
      helpGroup: 'GLOBAL',
    }),
    'kafka-sasl-username': Flags.string({
      description:
        'SASL user; the password only from CRYPTOLAMBDA_KAFKA_SASL_PASSWORD [env: CRYPTOLAMBDA_KAFKA_SASL_USERNAME].',
      helpGroup: 'GLOBAL',
    }),
    'redis-url': Flags.string({
      description: 'Redis URL, redis[s]://[user:password@]host:port/db [env: CRYPTOLAMBDA_REDIS_URL].',
      helpGroup: 'GLOBAL',
    }),
    'redis-tls-ca': Flags.string({
      description: "PEM file of a rediss:// server's CA [env: CRYPTOLAMBDA_REDIS_TLS_CA].",
      helpGroup: 'GLOBAL',
    }),
    config: Flags.string({
      description:
        'Configuration file (default: ./cryptolambda.yaml, then $XDG_CONFIG_HOME/cryptolambda/config.yaml) [env: CRYPTOLAMBDA_CONFIG].',
      helpGroup: 'GLOBAL',
    }),
    profile: Flags.string({
      description: 'Profile of the configuration file to apply [env: CRYPTOLAMBDA_PROFILE].',
      helpGroup: 'GLOBAL',
    }),
    'lake-dir': Flags.string({
      description: 'Parquet lake (raw zone + warehouse) [env: CRYPTOLAMBDA_LAKE_DIR].',
      helpGroup: 'GLOBAL',
    }),
    'state-dir': Flags.string({
      description: 'Local stack state (pids, logs, data) [env: CRYPTOLAMBDA_STATE_DIR].',
      helpGroup: 'GLOBAL',
    }),
    'topic-prefix': Flags.string({
      description: 'Prefix for every topic name [env: CRYPTOLAMBDA_TOPIC_PREFIX].',
      helpGroup: 'GLOBAL',
    }),
    'cost-basis': Flags.string({
      description: 'Cost-basis method of the deployment: average, fifo, lifo, hifo [env: CRYPTOLAMBDA_COST_BASIS].',
      helpGroup: 'GLOBAL',
    }),
  };

  protected flags!: BaseFlags<T>;
  protected args!: BaseArgs<T>;
  private _config?: Config;
  /** Progress, metrics and step lines (stderr). */
  protected logs!: ProgressLog;
  private _file?: ConfigFile | null;

  public override async init(): Promise<void> {
    await super.init();
    const { args, flags } = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (this.ctor as typeof BaseCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      args: this.ctor.args,
      strict: this.ctor.strict,
    });
    this.flags = flags as BaseFlags<T>;
    this.args = args as BaseArgs<T>;
    if (this.flags.debug) process.env.CRYPTOLAMBDA_DEBUG = '1';
    // --no-color is NO_COLOR for this process: chalk, the tables and the Ink ticker all read it.
    if (this.flags.color === false) process.env.NO_COLOR = '1';
    const format = (this.flags['log-format'] ?? process.env.CRYPTOLAMBDA_LOG_FORMAT ?? 'text') as LogFormat;
    if (!LOG_FORMATS.includes(format))
      throw new CryptolambdaError('INVALID_CONFIG', `CRYPTOLAMBDA_LOG_FORMAT: expected text or json (got "${format}")`);
    // With --json, stdout is one document: text progress is silent, JSON logs still go to stderr.
    this.logs = new ProgressLog(format, process.stderr, undefined, format === 'text' && this.jsonEnabled());
  }

  /** Results (stdout) never share a line with a progress bar (stderr) on a terminal. */
  public override log(message = '', ...args: unknown[]): void {
    this.logs?.clearStatus();
    super.log(message, ...args);
  }

  /** How human output is laid out: 80 columns unless --wide (every column, every digit). */
  protected viewOptions(): ViewOptions {
    const f = this.flags as { wide?: boolean };
    const color = colorEnabled();
    const wide = f.wide === true;
    return { wide, width: wide ? Number.POSITIVE_INFINITY : DEFAULT_WIDTH, color, c: makeChalk(color) };
  }

  /**
   * Print a query result for people: `--output csv` prints the model's rows with the exact values,
   * otherwise the human rendering. --json prints nothing here (oclif prints the returned result).
   */
  protected show<R>(human: (o: ViewOptions) => string, model: () => TableModel<R>): void {
    if (this.jsonEnabled()) return;
    const f = this.flags as { output?: string };
    this.log(f.output === 'csv' ? toCsv(model()) : human(this.viewOptions()));
  }

  /** The connection flags as resolveConfig's input. */
  protected get configFlags(): ConfigInput {
    return {
      kafkaBrokers: this.flags['kafka-brokers'],
      redisUrl: this.flags['redis-url'],
      redisTlsCa: this.flags['redis-tls-ca'],
      kafkaSsl: this.flags['kafka-ssl'],
      kafkaSslCa: this.flags['kafka-ssl-ca'],
      kafkaSaslMechanism: this.flags['kafka-sasl-mechanism'],
      kafkaSaslUsername: this.flags['kafka-sasl-username'],
      stateDir: this.flags['state-dir'],
      lakeDir: this.flags['lake-dir'],
      topicPrefix: this.flags['topic-prefix'],
      costBasis: this.flags['cost-basis'],
    };
  }

  /** The configuration file in effect (--config, CRYPTOLAMBDA_CONFIG, or the search path), if any. */
  protected get configFile(): ConfigFile | undefined {
    if (this._file === undefined) {
      const explicit = this.flags.config ?? process.env.CRYPTOLAMBDA_CONFIG;
      const found = findConfigFile(explicit, process.cwd(), process.env);
      const profile = this.flags.profile ?? (process.env.CRYPTOLAMBDA_PROFILE || undefined);
      if (found === undefined && profile !== undefined)
        throw new CryptolambdaError(
          'INVALID_CONFIG',
          `--profile ${profile}: no configuration file found`,
          'create ./cryptolambda.yaml or pass --config FILE',
        );
      this._file = found === undefined ? null : loadConfigFile(found, profile, CONFIG_KEYS);
    }
    return this._file ?? undefined;
  }

  /** Resolved once per command: flags > env > file > defaults, validated. */
  protected get appConfig(): Config {
    this._config ??= resolveConfig(this.configFlags, process.env, process.cwd(), this.configFile);
    return this._config;
  }

  /**
   * Run `fn` with a signal that SIGINT/SIGTERM abort, so long work stops cleanly (flush what was
   * accepted, a final checkpoint) instead of dying mid-write; the handlers are removed afterwards.
   */
  protected async untilStopped<R>(fn: (signal: AbortSignal) => Promise<R>): Promise<R> {
    const stop = new AbortController();
    let deadline: NodeJS.Timeout | undefined;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (stop.signal.aborted) forcedExit(sig, 'a second signal');
      // The reason is the signal's name: a job that stops early says which one (StoppedError).
      stop.abort(sig);
      // A clean stop flushes and checkpoints, but a broker or Redis that is down makes client
      // retries run for minutes: past the grace period, exit anyway and say what was left.
      deadline = setTimeout(() => forcedExit(sig, `${stopGraceMs() / 1000} s`), stopGraceMs());
      deadline.unref();
    };
    // `on`, not `once`: a second signal during the grace period stops at once.
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      return await fn(stop.signal);
    } finally {
      if (deadline) clearTimeout(deadline);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }

  /** A warning on stderr (also with --json, where stdout must stay one document). */
  protected warnLine(msg: string): void {
    if (this.logs.format === 'json') this.logs.line(msg, {}, 'warn');
    else process.stderr.write(`${makeChalk(colorEnabled(process.stderr)).yellow(`warning: ${msg}`)}\n`);
  }

  /** A progress, metrics or step line on stderr (timestamped, or JSON), so stdout stays the result. */
  protected progress(msg: string, fields: Record<string, unknown> = {}): void {
    this.logs.line(maskSecrets(msg), fields);
  }

  protected override async catch(err: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<void> {
    const debug = this.argv.includes('--debug') || process.env.CRYPTOLAMBDA_DEBUG === '1';
    let code = 1;
    let errorCode = 'INTERNAL';
    let hint: string | undefined;
    if (isCryptolambdaError(err)) {
      code = err instanceof StoppedError && err.signal === 'SIGINT' ? 130 : EXIT_CODES[err.code];
      errorCode = err.code;
      hint = err.hint;
    } else if (err instanceof Errors.CLIError) {
      // oclif parse errors (unknown flag, bad option value, missing arg): usage errors.
      code = err.oclif?.exit === 0 ? 0 : 2;
      errorCode = 'INVALID_ARGUMENT';
      hint = 'see --help';
    }
    if (code === 0) throw err; // oclif uses exit errors for --help/--version
    // A parse failure leaves oclif's `parsed` unset, and outside production oclif then warns
    // "did not parse its arguments" after our one-line error. The command did try to parse.
    (this as unknown as { parsed: boolean }).parsed = true;
    process.exitCode = code;
    // oclif spreads parse errors over several lines ("Parsing --count" / "Expected an integer…"):
    // fold them into the one line the CLI promises.
    const message = maskSecrets(
      (err.message || String(err))
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '' && !l.startsWith('See more help'))
        .join(': ') || 'unknown error',
    );
    if (hint) hint = maskSecrets(hint);
    if (this.jsonEnabled()) {
      this.logJson({ error: { code: errorCode, message: message.trim(), ...(hint ? { hint } : {}) } });
    } else {
      process.stderr.write(`Error: ${message.trim()}\n`);
      if (hint) process.stderr.write(`Hint: ${hint}\n`);
    }
    if (debug)
      process.stderr.write(
        maskSecrets(
          `${err.stack ?? ''}\n${err.cause ? `cause: ${String((err.cause as Error).stack ?? err.cause)}\n` : ''}`,
        ),
      );
  }
}
