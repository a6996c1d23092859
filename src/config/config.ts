import { homedir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { CryptolambdaError } from '../core/errors.js';
import { COST_METHODS } from '../core/portfolio/lots.js';

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
  /**
   * The deployment's cost-basis method (docs/core.md §3a). Both layers must run with the same one;
   * a state built with another method is refused, never silently mixed (rebuild to change it).
   */
  costBasis: z.enum(COST_METHODS, { message: `expected one of ${COST_METHODS.join(', ')}` }),
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
  costBasis?: string | undefined;
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
  costBasis: 'CRYPTOLAMBDA_COST_BASIS',
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
  costBasis: 'average',
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
      `${source[key] ?? key}: ${issue.message} (got ${JSON.stringify(value)})`,
      `set ${ENV[key]} or the matching flag to a valid value`,
    );
  }
  return parsed.data;
};

export const redisPort = (config: Config): number => Number(new URL(config.redisUrl).port || 6379);
export const redisHost = (config: Config): string => new URL(config.redisUrl).hostname;
export const kafkaPort = (config: Config): number => Number(config.kafkaBrokers[0]!.split(':')[1]);
export const kafkaHost = (config: Config): string => config.kafkaBrokers[0]!.split(':')[0]!;
