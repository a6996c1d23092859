import { homedir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { CryptolambdaError } from '../core/errors.js';

/**
 * One place that decides where cryptolambda talks to: flags > environment (CRYPTOLAMBDA_*) > defaults.
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
  redisUrl: z
    .string()
    .regex(/^rediss?:\/\/[^\s]+$/, 'expected redis://host:port[/db]')
    .refine((s) => {
      try {
        new URL(s);
        return true;
      } catch {
        return false;
      }
    }, 'not a valid URL'),
  /** Prepended to every topic name; lets tests and tenants share one broker. */
  topicPrefix: z.string().regex(/^[A-Za-z0-9._-]*$/, 'letters, digits, dot, underscore and dash only'),
  /** Kafka client id and consumer-group prefix. */
  clientId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, dot, underscore and dash only'),
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

export interface ConfigInput {
  stateDir?: string | undefined;
  cacheDir?: string | undefined;
  lakeDir?: string | undefined;
  kafkaBrokers?: string | undefined;
  kafkaControllerPort?: string | number | undefined;
  redisUrl?: string | undefined;
  topicPrefix?: string | undefined;
  clientId?: string | undefined;
  kafkaSsl?: string | boolean | undefined;
  kafkaSslCa?: string | undefined;
  kafkaSaslMechanism?: string | undefined;
  kafkaSaslUsername?: string | undefined;
  kafkaSaslPassword?: string | undefined;
  redisTlsCa?: string | undefined;
}

const ENV: Record<keyof ConfigInput, string> = {
  stateDir: 'CRYPTOLAMBDA_STATE_DIR',
  cacheDir: 'CRYPTOLAMBDA_CACHE_DIR',
  lakeDir: 'CRYPTOLAMBDA_LAKE_DIR',
  kafkaBrokers: 'CRYPTOLAMBDA_KAFKA_BROKERS',
  kafkaControllerPort: 'CRYPTOLAMBDA_KAFKA_CONTROLLER_PORT',
  redisUrl: 'CRYPTOLAMBDA_REDIS_URL',
  topicPrefix: 'CRYPTOLAMBDA_TOPIC_PREFIX',
  clientId: 'CRYPTOLAMBDA_CLIENT_ID',
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

export const ENV_VARS: Readonly<Record<keyof ConfigInput, string>> = ENV;

export const defaultConfig = (cwd: string, home: string = homedir(), env: NodeJS.ProcessEnv = {}): ConfigInput => ({
  stateDir: path.join(cwd, '.cryptolambda'),
  cacheDir: path.join(env.XDG_CACHE_HOME || path.join(home, '.cache'), 'cryptolambda'),
  lakeDir: path.join(cwd, 'lake'),
  kafkaBrokers: '127.0.0.1:19092',
  kafkaControllerPort: 19093,
  redisUrl: 'redis://127.0.0.1:16379/0',
  topicPrefix: '',
  clientId: 'cryptolambda',
  kafkaSsl: false,
  kafkaSslCa: '',
  kafkaSaslMechanism: 'none',
  kafkaSaslUsername: '',
  kafkaSaslPassword: '',
  redisTlsCa: '',
});

/**
 * Resolve flags > env > defaults and validate. Throws INVALID_CONFIG naming the source of the bad
 * value (flag or variable), so "CRYPTOLAMBDA_REDIS_URL: expected redis://host:port[/db]" is one line.
 */
export const resolveConfig = (
  flags: ConfigInput = {},
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): Config => {
  const defaults = defaultConfig(cwd, homedir(), env);
  const source: Partial<Record<keyof ConfigInput, string>> = {};
  const merged: ConfigInput = {};
  for (const key of Object.keys(ENV) as (keyof ConfigInput)[]) {
    const fromFlag = flags[key];
    const fromEnv = env[ENV[key]];
    if (fromFlag !== undefined && fromFlag !== '') {
      merged[key] = fromFlag as never;
      source[key] = `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    } else if (fromEnv !== undefined && fromEnv !== '') {
      merged[key] = fromEnv as never;
      source[key] = ENV[key];
    } else {
      merged[key] = defaults[key] as never;
      source[key] = 'default';
    }
  }
  const parsed = ConfigSchema.safeParse({
    ...merged,
    stateDir: path.resolve(cwd, String(merged.stateDir)),
    cacheDir: path.resolve(cwd, String(merged.cacheDir)),
    lakeDir: path.resolve(cwd, String(merged.lakeDir)),
    kafkaSslCa: merged.kafkaSslCa ? path.resolve(cwd, String(merged.kafkaSslCa)) : '',
    redisTlsCa: merged.redisTlsCa ? path.resolve(cwd, String(merged.redisTlsCa)) : '',
    kafkaBrokers: String(merged.kafkaBrokers)
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0]) as keyof ConfigInput;
    const value = merged[key];
    throw new CryptolambdaError(
      'INVALID_CONFIG',
      `${source[key] ?? key}: ${issue.message} (got ${shown(key, value)})`,
      `set ${ENV[key]} or the matching flag to a valid value`,
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
  return c;
};

export const redisPort = (config: Config): number => Number(new URL(config.redisUrl).port || 6379);
export const redisHost = (config: Config): string => new URL(config.redisUrl).hostname;
export const kafkaPort = (config: Config): number => Number(config.kafkaBrokers[0]!.split(':')[1]);
export const kafkaHost = (config: Config): string => config.kafkaBrokers[0]!.split(':')[0]!;
