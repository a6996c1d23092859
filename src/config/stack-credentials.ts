import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { CryptolambdaError } from '../core/errors.js';
import { registerSecret } from '../core/redact.js';

/**
 * The local stack is secure by default: `stack up` starts Redis with the default user disabled and
 * one ACL user, and Kafka with a SASL/SCRAM-SHA-256 client listener and one SCRAM user, each with
 * a password generated once and stored, mode 0600, in one file in the state dir. Every command
 * resolving a config for that Redis (same host:port, no credentials in the URL) or that broker
 * (same single host:port, no SASL or TLS settings of its own) picks the user and password up from
 * there, so nothing has to be exported and nothing is typed on a command line. Explicit settings
 * always win (a managed Redis, a managed Kafka).
 */
export const REDIS_ACL_USER = 'cryptolambda';
/** The SCRAM user clients (and the broker itself, inter-broker) authenticate as. */
export const KAFKA_SCRAM_USER = 'cryptolambda';
/**
 * The broker's internal PLAIN user: controller listener and inter-broker traffic (SCRAM cannot
 * serve a KRaft controller: its credentials live in the metadata the controller serves).
 */
export const KAFKA_CONTROLLER_USER = 'controller';

const Secret = z.string().min(16);
const RedisCredentials = z.object({ host: z.string(), port: z.number().int(), user: z.string(), password: Secret });
const KafkaCredentials = z.object({
  host: z.string(),
  port: z.number().int(),
  mechanism: z.literal('scram-sha-256'),
  user: z.string(),
  password: Secret,
  controllerUser: z.string(),
  controllerPassword: Secret,
});
// A state dir from before Kafka was secured has only `redis` (and one from before Redis was
// secured has no file): each part is optional and generated the first time it is needed.
const StackCredentials = z.object({ redis: RedisCredentials.optional(), kafka: KafkaCredentials.optional() });
export type StackCredentials = z.infer<typeof StackCredentials>;
export type KafkaStackCredentials = z.infer<typeof KafkaCredentials>;

export const credentialsPath = (stateDir: string): string => path.join(stateDir, 'credentials', 'stack.json');

export const readStackCredentials = (stateDir: string): StackCredentials | undefined => {
  const file = credentialsPath(stateDir);
  if (!existsSync(file)) return undefined;
  const parsed = StackCredentials.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) {
    throw new CryptolambdaError(
      'INVALID_CONFIG',
      `${file}: not a valid credentials file`,
      'remove it and restart the stack (`stack down`, `stack up`) to generate new credentials',
    );
  }
  for (const s of [parsed.data.redis?.password, parsed.data.kafka?.password, parsed.data.kafka?.controllerPassword])
    if (s !== undefined) registerSecret(s);
  return parsed.data;
};

const newPassword = (): string => randomBytes(24).toString('base64url');

/** Write the whole file, 0600 under a 0700 dir (also when it existed with looser modes). */
export const writePrivateFile = (file: string, text: string): void => {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  chmodSync(path.dirname(file), 0o700);
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600);
};

const writeStackCredentials = (stateDir: string, creds: StackCredentials): void => {
  writePrivateFile(credentialsPath(stateDir), `${JSON.stringify(creds, null, 1)}\n`);
};

/** The stored Redis credentials for this address, or new ones; the Kafka part is kept as it is. */
export const ensureStackCredentials = (
  stateDir: string,
  host: string,
  port: number,
): StackCredentials & { redis: z.infer<typeof RedisCredentials> } => {
  const have = readStackCredentials(stateDir) ?? {};
  if (have.redis && have.redis.host === host && have.redis.port === port) return { ...have, redis: have.redis };
  const creds = { ...have, redis: { host, port, user: REDIS_ACL_USER, password: newPassword() } };
  writeStackCredentials(stateDir, creds);
  registerSecret(creds.redis.password);
  return creds;
};

/**
 * The stored Kafka credentials for this broker address, or new ones (a state dir from before Kafka
 * was secured, or a broker moved to another port); the Redis part is kept as it is. New passwords
 * reach an already-formatted broker through `stack up` (it upserts the SCRAM user, kafka-node.ts).
 */
export const ensureKafkaStackCredentials = (stateDir: string, host: string, port: number): KafkaStackCredentials => {
  const have = readStackCredentials(stateDir) ?? {};
  if (have.kafka && have.kafka.host === host && have.kafka.port === port) return have.kafka;
  const kafka: KafkaStackCredentials = {
    host,
    port,
    mechanism: 'scram-sha-256',
    user: KAFKA_SCRAM_USER,
    password: newPassword(),
    controllerUser: KAFKA_CONTROLLER_USER,
    controllerPassword: newPassword(),
  };
  writeStackCredentials(stateDir, { ...have, kafka });
  registerSecret(kafka.password);
  registerSecret(kafka.controllerPassword);
  return kafka;
};

/**
 * The stack's SCRAM settings for a config that points at the stack's broker (exactly its one
 * host:port) and sets no SASL or TLS of its own; undefined otherwise (an explicit setting wins).
 */
export const stackKafkaSasl = (
  stateDir: string,
  brokers: readonly string[],
  explicit: boolean,
): { mechanism: 'scram-sha-256'; username: string; password: string } | undefined => {
  if (explicit || brokers.length !== 1) return undefined;
  const k = readStackCredentials(stateDir)?.kafka;
  if (k === undefined || brokers[0] !== `${k.host}:${k.port}`) return undefined;
  return { mechanism: k.mechanism, username: k.user, password: k.password };
};

/** redisUrl with the stack's ACL user and password when it points at the stack's Redis without credentials. */
export const withStackRedisCredentials = (redisUrl: string, stateDir: string): string => {
  let u: URL;
  try {
    u = new URL(redisUrl);
  } catch {
    return redisUrl;
  }
  if (u.username || u.password) {
    if (u.password) registerSecret(decodeURIComponent(u.password));
    return redisUrl;
  }
  const creds = readStackCredentials(stateDir);
  if (creds?.redis === undefined) return redisUrl;
  if (creds.redis.host !== u.hostname || creds.redis.port !== Number(u.port || 6379)) return redisUrl;
  u.username = encodeURIComponent(creds.redis.user);
  u.password = encodeURIComponent(creds.redis.password);
  return u.toString();
};
