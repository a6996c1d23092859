import { homedir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { CryptolambdaError } from '../core/errors.js';
import { Decimal, USD_SCALE } from '../core/money/decimal.js';
import { COST_METHODS } from '../core/portfolio/lots.js';
import { registerSecret } from '../core/redact.js';
import { checkTiers, DEFAULT_TIERS, type TierDef } from '../core/rewards/tiers.js';
import { tryParseDuration } from '../core/time/duration.js';
import type { ConfigFile } from './file.js';
import { stackKafkaSasl, withStackRedisCredentials } from './stack-credentials.js';

/**
 * One place that decides where cryptolambda talks to and how it behaves:
 * flags > environment (CRYPTOLAMBDA_*) > configuration file (file.ts, with profiles) > defaults.
 * Defaults point at the local stack that `cryptolambda stack up` starts. The ports are deliberately
 * not Kafka's 9092 / Redis's 6379 so a developer's own services are never touched.
 */
const hostPort = z
  .string()
  .regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, 'expected host:port')
  .refine((s) => {
    const p = Number(s.split(':')[1]);
    return p > 0 && p < 65536;
  }, 'port must be 1-65535');

const port = z.coerce.number().int().min(1).max(65535);

/** A decimal setting (reward tiers): a string ("0.005") or a plain YAML number, checked exactly. */
const decimalText = z
  .union([z.string(), z.number()])
  .transform((v) => String(v))
  .refine((s) => typeof Decimal.tryParse(s, USD_SCALE) !== 'string', 'expected a decimal with at most 12 places');

/** A duration setting in the one syntax of every time flag (500ms, 30s, 5m, 2d). */
const duration = z.union([z.string(), z.literal(0)]).transform((v, ctx) => {
  const r = tryParseDuration(String(v));
  if (typeof r === 'string') {
    ctx.addIssue({ code: 'custom', message: r });
    return z.NEVER;
  }
  return r;
});

const ratio = z.number().positive().nullable();

export const TierSettingSchema = z
  .object({ name: z.string().min(1), threshold: decimalText, rate: decimalText, monthlyCap: decimalText })
  .strict();

/** An on/off setting as it arrives from a flag, a variable or a file. */
const flag = z.union([
  z.boolean(),
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false' })
    .transform((v) => ['true', '1', 'yes'].includes(v)),
]);

export const ConfigSchema = z.object({
  /** Project state: pids, logs, Kafka and Redis data of the local stack (git-ignored). */
  stateDir: z.string().min(1),
  /** Downloaded Kafka jars, shared by every checkout on the machine. */
  cacheDir: z.string().min(1),
  /** Parquet lake (raw zone + warehouse). */
  lakeDir: z.string().min(1),
  kafkaBrokers: z.array(hostPort).min(1, 'at least one broker'),
  /** Controller listener port of the local KRaft node (stack only). */
  kafkaControllerPort: port,
  /** One `redis://host:port[/db]`, or several comma-separated node URLs of a Redis Cluster. */
  redisUrl: z
    .string()
    .regex(
      /^rediss?:\/\/[^\s,]+(,rediss?:\/\/[^\s,]+)*$/,
      'expected redis://host:port[/db] (or a comma-separated list of cluster nodes)',
    )
    .refine((s) => {
      try {
        for (const u of s.split(',')) new URL(u);
        return true;
      } catch {
        return false;
      }
    }, 'not a valid URL'),
  /** Prepended to every topic name; lets tests and tenants share one broker. */
  topicPrefix: z.string().regex(/^[A-Za-z0-9._-]*$/, 'letters, digits, dot, underscore and dash only'),
  /** Kafka client id and consumer-group prefix. */
  clientId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, dot, underscore and dash only'),
  /**
   * The deployment's cost-basis method (docs/core.md §3a). Both layers must run with the same one;
   * a state kept by another method is refused, never silently mixed (rebuild to change it).
   */
  costBasis: z.enum(COST_METHODS, { message: `expected one of ${COST_METHODS.join(', ')}` }),
  /**
   * The cashback tier table (thresholds ascending from 0). Both layers read it, so changing it
   * needs a rebuild (`pipeline run --from … --force all`) and a stream restart to reconcile.
   */
  rewardTiers: z
    .array(TierSettingSchema)
    .min(1)
    .superRefine((rows, ctx) => {
      // zod still runs this when a row failed its own checks: only a table of valid rows is checked.
      const ok = rows.every((r) =>
        [r.threshold, r.rate, r.monthlyCap].every((v) => typeof Decimal.tryParse(String(v), USD_SCALE) !== 'string'),
      );
      if (!ok) return;
      const reason = checkTiers(rows.map(tierDefOf));
      if (reason !== undefined) ctx.addIssue({ code: 'custom', message: reason });
    }),
  /** Data-quality thresholds of the daily gate. */
  dq: z
    .object({
      /**
       * Day-over-day row-count bounds of the portfolio snapshot (a null bound is not checked). No
       * upper bound by default: the snapshot grows with the user base, so a growth day is
       * legitimate (it used to fail at 1.5x); a duplicated load is the unique check's job.
       */
      rowCountMinRatio: ratio,
      rowCountMaxRatio: ratio,
      /** The newest snapshot may be at most this old at the end of the run date. */
      freshnessMaxAgeHours: z.number().positive(),
      /** Check ids never run (as if every run passed --skip-check for them). */
      skip: z.array(z.string().min(1)),
    })
    .strict(),
  /** Speed-layer timings (the stream's defaults; its flags override them). */
  speed: z
    .object({
      outOfOrderness: duration,
      allowedLateness: duration,
      userIdle: duration,
      /**
       * Allowed user lateness, shared by `stream` and `batch` (core/time/lateness.ts): an event more
       * than this before the latest event time earlier in its topic partition is TOO_LATE in both.
       */
      userLateness: duration,
      checkpointInterval: duration,
    })
    .strict(),
  /** TLS to the brokers (a managed cluster's SSL or SASL_SSL listener). */
  kafkaSsl: flag,
  /** PEM file of the CA that signed the brokers' certificates; empty = the system's trust store. */
  kafkaSslCa: z.string(),
  /** SASL mechanism; `none` for an unauthenticated listener. */
  kafkaSaslMechanism: z.enum(['none', 'plain', 'scram-sha-256', 'scram-sha-512'], {
    message: 'expected none, plain, scram-sha-256 or scram-sha-512',
  }),
  kafkaSaslUsername: z.string(),
  /** Secret: never printed (see SECRET_KEYS); set it through the environment, not a flag. */
  kafkaSaslPassword: z.string(),
  /** PEM file of the CA that signed a rediss:// server's certificate; empty = the system's trust store. */
  redisTlsCa: z.string(),
});

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigKey = keyof Config;
export const CONFIG_KEYS = Object.keys(ConfigSchema.shape) as ConfigKey[];

/** A tier row of the configuration as the core's TierDef. */
export const tierDefOf = (t: z.infer<typeof TierSettingSchema>): TierDef => ({
  name: t.name,
  threshold: Decimal.parse(t.threshold, USD_SCALE),
  rate: Decimal.parse(t.rate, USD_SCALE),
  monthlyCap: Decimal.parse(t.monthlyCap, USD_SCALE),
});

/** The tier table of a resolved configuration. */
export const tiersOf = (config: Pick<Config, 'rewardTiers'>): readonly TierDef[] => config.rewardTiers.map(tierDefOf);

/** Flag values (strings as oclif parses them) for the flat settings; nested ones come from the file. */
export type ConfigInput = { [K in ConfigKey]?: string | number | boolean | undefined };

const ENV: Partial<Record<ConfigKey, string>> = {
  stateDir: 'CRYPTOLAMBDA_STATE_DIR',
  cacheDir: 'CRYPTOLAMBDA_CACHE_DIR',
  lakeDir: 'CRYPTOLAMBDA_LAKE_DIR',
  kafkaBrokers: 'CRYPTOLAMBDA_KAFKA_BROKERS',
  kafkaControllerPort: 'CRYPTOLAMBDA_KAFKA_CONTROLLER_PORT',
  redisUrl: 'CRYPTOLAMBDA_REDIS_URL',
  topicPrefix: 'CRYPTOLAMBDA_TOPIC_PREFIX',
  clientId: 'CRYPTOLAMBDA_CLIENT_ID',
  costBasis: 'CRYPTOLAMBDA_COST_BASIS',
  kafkaSsl: 'CRYPTOLAMBDA_KAFKA_SSL',
  kafkaSslCa: 'CRYPTOLAMBDA_KAFKA_SSL_CA',
  kafkaSaslMechanism: 'CRYPTOLAMBDA_KAFKA_SASL_MECHANISM',
  kafkaSaslUsername: 'CRYPTOLAMBDA_KAFKA_SASL_USERNAME',
  kafkaSaslPassword: 'CRYPTOLAMBDA_KAFKA_SASL_PASSWORD',
  redisTlsCa: 'CRYPTOLAMBDA_REDIS_TLS_CA',
};

/** Values that are never echoed back (errors, --debug, logs): they are replaced by `***`. */
export const SECRET_KEYS: ReadonlySet<keyof ConfigInput> = new Set(['kafkaSaslPassword']);

/** A URL with its password (Redis ACL or legacy AUTH) replaced by `***`, for messages and logs. */
export const redactUrl = (url: string): string => {
  // A Redis Cluster is a comma-separated list of node URLs: redact each.
  if (url.includes(',')) return url.split(',').map(redactUrl).join(',');
  try {
    const u = new URL(url);
    if (!u.password) return url;
    u.password = '***';
    return u.toString();
  } catch {
    // Not a URL: hide anything between `:` and `@` that could be a password.
    return url.replace(/:[^:@/]*@/, ':***@');
  }
};

const shown = (key: keyof ConfigInput, value: unknown): string => {
  if (SECRET_KEYS.has(key)) return '"***"';
  if (key === 'redisUrl' && typeof value === 'string') return JSON.stringify(redactUrl(value));
  return JSON.stringify(value);
};

export const ENV_VARS: Readonly<Partial<Record<ConfigKey, string>>> = ENV;

/** Settings that are directories: relative values resolve against cwd (flags, env) or the file's directory. */
const PATH_KEYS: ReadonlySet<string> = new Set(['stateDir', 'cacheDir', 'lakeDir', 'kafkaSslCa', 'redisTlsCa']);

export const defaultConfig = (
  cwd: string,
  home: string = homedir(),
  env: NodeJS.ProcessEnv = {},
): Record<ConfigKey, unknown> => ({
  stateDir: path.join(cwd, '.cryptolambda'),
  cacheDir: path.join(env.XDG_CACHE_HOME || path.join(home, '.cache'), 'cryptolambda'),
  lakeDir: path.join(cwd, 'lake'),
  kafkaBrokers: '127.0.0.1:19092',
  kafkaControllerPort: 19093,
  redisUrl: 'redis://127.0.0.1:16379/0',
  topicPrefix: '',
  clientId: 'cryptolambda',
  costBasis: 'average',
  rewardTiers: DEFAULT_TIERS.map((t) => ({
    name: t.name,
    threshold: t.threshold.toPlain(),
    rate: t.rate.toPlain(),
    monthlyCap: t.monthlyCap.toPlain(),
  })),
  dq: { rowCountMinRatio: 0.9, rowCountMaxRatio: null, freshnessMaxAgeHours: 24, skip: [] },
  speed: {
    outOfOrderness: '5s',
    allowedLateness: '30s',
    userIdle: '2s',
    userLateness: '1h',
    checkpointInterval: '250ms',
  },
  kafkaSsl: false,
  kafkaSslCa: '',
  kafkaSaslMechanism: 'none',
  kafkaSaslUsername: '',
  kafkaSaslPassword: '',
  redisTlsCa: '',
});

const flagName = (key: string): string => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** Nested settings given partly in the file are completed from the defaults (one level deep). */
const withDefaults = (fromFile: unknown, fallback: unknown): unknown =>
  fromFile !== null &&
  typeof fromFile === 'object' &&
  !Array.isArray(fromFile) &&
  fallback !== null &&
  typeof fallback === 'object' &&
  !Array.isArray(fallback)
    ? { ...(fallback as object), ...(fromFile as object) }
    : fromFile;

/**
 * Resolve flags > environment > file > defaults for every setting of the schema and validate.
 * Throws INVALID_CONFIG naming where the bad value came from: the flag, the variable, or the
 * file with its line and key ("cryptolambda.yaml:7: profiles.prod.redisUrl: expected …").
 */
export const resolveConfig = (
  flags: ConfigInput = {},
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
  file?: ConfigFile,
): Config => {
  const defaults = defaultConfig(cwd, homedir(), env);
  const source: Partial<Record<ConfigKey, string>> = {};
  const merged: Record<string, unknown> = {};
  const fileDir = file ? path.dirname(file.path) : cwd;
  for (const key of CONFIG_KEYS) {
    const fromFlag = flags[key];
    const envName = ENV[key];
    const fromEnv = envName === undefined ? undefined : env[envName];
    const fromFile = file?.values[key];
    let v: unknown;
    let base = cwd;
    if (fromFlag !== undefined && fromFlag !== '') {
      v = fromFlag;
      source[key] = flagName(key);
    } else if (fromEnv !== undefined && fromEnv !== '') {
      v = fromEnv;
      source[key] = envName;
    } else if (fromFile !== undefined && fromFile !== null) {
      v = withDefaults(fromFile, defaults[key]);
      base = fileDir;
      source[key] = 'file';
    } else {
      v = defaults[key];
      source[key] = 'default';
    }
    if (PATH_KEYS.has(key) && typeof v === 'string' && v !== '') v = path.resolve(base, v);
    if (key === 'kafkaBrokers' && typeof v === 'string')
      v = v
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
    merged[key] = v;
  }
  const parsed = ConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0]) as ConfigKey;
    const sub = issue.path.slice(1).map((x) => (typeof x === 'number' ? x : String(x)));
    const where = source[key] === 'file' && file ? file.locate(key, sub) : (source[key] ?? key);
    // A flag or variable is one string: show it whole; in the file, the value at the issue's path.
    const value =
      source[key] === 'file'
        ? sub.reduce<unknown>(
            (o, k) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined),
            file?.values[key],
          )
        : (flags[key] ?? (ENV[key] ? env[ENV[key]!] : undefined));
    const envName = ENV[key];
    throw new CryptolambdaError(
      'INVALID_CONFIG',
      `${where}: ${issue.message}${value === undefined || typeof value === 'object' ? '' : ` (got ${shown(key, value)})`}`,
      source[key] === 'file'
        ? 'fix the file, or override the setting with its flag or variable'
        : envName
          ? `set ${envName} or the matching flag to a valid value`
          : 'see `cryptolambda config show`',
    );
  }
  const c = parsed.data;
  if (c.kafkaSaslMechanism !== 'none' && (!c.kafkaSaslUsername || !c.kafkaSaslPassword)) {
    throw new CryptolambdaError(
      'INVALID_CONFIG',
      `${source.kafkaSaslMechanism}: SASL ${c.kafkaSaslMechanism} needs a username and a password`,
      `set ${ENV.kafkaSaslUsername} and ${ENV.kafkaSaslPassword}`,
    );
  }
  if (c.kafkaSaslPassword !== '') registerSecret(c.kafkaSaslPassword);
  // The local stack's generated credentials (state dir, 0600): Redis unless the URL carries its
  // own; Kafka when the brokers are the stack's and no SASL mechanism or TLS was set anywhere.
  const withRedis = { ...c, redisUrl: withStackRedisCredentials(c.redisUrl, c.stateDir) };
  return source.kafkaSaslMechanism === 'default' ? withStackKafka(withRedis) : withRedis;
};

/**
 * The config with the local stack's SCRAM user when it points at the stack's broker (its one
 * host:port, from the credentials file in the state dir) and sets neither SASL nor TLS; as it is
 * otherwise. resolveConfig applies it unless a SASL mechanism was set explicitly (even `none`);
 * `stack up` applies it again for credentials it has just generated.
 */
export const withStackKafka = (c: Config): Config => {
  const stackSasl = stackKafkaSasl(
    c.stateDir,
    c.kafkaBrokers,
    c.kafkaSaslMechanism !== 'none' || c.kafkaSsl || c.kafkaSslCa !== '',
  );
  if (stackSasl === undefined) return c;
  return {
    ...c,
    kafkaSaslMechanism: stackSasl.mechanism,
    kafkaSaslUsername: stackSasl.username,
    kafkaSaslPassword: stackSasl.password,
  };
};

/** The Redis node URLs: one for a single Redis, several for a Redis Cluster. */
export const redisNodes = (config: Config): string[] => config.redisUrl.split(',');
export const isRedisCluster = (config: Config): boolean => redisNodes(config).length > 1;
/** Host and port of the (first) node: the local stack runs one Redis. */
export const redisPort = (config: Config): number => Number(new URL(redisNodes(config)[0]!).port || 6379);
export const redisHost = (config: Config): string => new URL(redisNodes(config)[0]!).hostname;
/** Setting names whose values are secrets (masked by `config show`). */
const SECRET_KEY_RE = /pass(word)?|secret|token|credential|key$/i;

/** A copy for display: secrets masked, URL passwords replaced. Generic over new settings. */
export const maskSecrets = (value: unknown, key = ''): unknown => {
  if (typeof value === 'string') {
    if (key !== '' && SECRET_KEY_RE.test(key) && value !== '') return '****';
    return value.replace(/^(\w+:\/\/[^:/@\s]*:)[^@\s]+@/, '$1****@');
  }
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v, key));
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSecrets(v, k)]));
  return value;
};

/** Where each setting's value came from (for `config show`). */
export const configSources = (
  flags: ConfigInput,
  env: NodeJS.ProcessEnv,
  file: ConfigFile | undefined,
): Record<ConfigKey, string> =>
  Object.fromEntries(
    CONFIG_KEYS.map((key) => {
      const f = flags[key];
      const e = ENV[key] === undefined ? undefined : env[ENV[key]!];
      if (f !== undefined && f !== '') return [key, flagName(key)];
      if (e !== undefined && e !== '') return [key, ENV[key]!];
      if (file?.values[key] !== undefined && file.values[key] !== null) return [key, file.locate(key)];
      return [key, 'default'];
    }),
  ) as Record<ConfigKey, string>;

export const kafkaPort = (config: Config): number => Number(config.kafkaBrokers[0]!.split(':')[1]);
export const kafkaHost = (config: Config): string => config.kafkaBrokers[0]!.split(':')[0]!;
