import path from 'node:path';
import { privateDirs } from '../adapters/files/private.js';
import { ensureTopics, withAdmin } from '../adapters/kafka/client.js';
import { kafkaStatus, type NodeStatus, restartOutdatedKafka, startKafka } from '../adapters/stack/kafka-node.js';
import { isOurs, readRecord, removeRecord, stopProcess } from '../adapters/stack/process.js';
import { redisStatus, startRedis } from '../adapters/stack/redis-node.js';
import { type Config, withStackKafka } from '../config/config.js';
import { CryptolambdaError } from '../core/errors.js';
import { ALL_TOPICS } from '../core/topics.js';

export type ComponentName = 'kafka' | 'redis';

export interface UpComponent {
  readonly name: ComponentName;
  /** started: by this call; running: started earlier by us; external: a healthy service we did not start. */
  readonly action: 'started' | 'running' | 'external';
  readonly pid: number | null;
  readonly port: number;
  readonly version: string | null;
}

export interface StackUpResult {
  readonly components: UpComponent[];
  readonly topics: { readonly created: string[]; readonly existing: string[] };
}

export interface StackDownResult {
  readonly components: { name: ComponentName; result: 'stopped' | 'killed' | 'not-running'; pid: number | null }[];
}

export interface StackStatusResult {
  readonly healthy: boolean;
  readonly components: NodeStatus[];
  readonly topics: { name: string; present: boolean }[];
}

type Log = (msg: string) => void;

const bringUp = async (
  name: ComponentName,
  config: Config,
  log: Log,
  status: (c: Config) => Promise<NodeStatus>,
  start: (c: Config, log: Log) => Promise<{ pid: number; port: number; version: string }>,
): Promise<UpComponent> => {
  const s = await status(config);
  if (s.healthy)
    return { name, action: s.managed ? 'running' : 'external', pid: s.pid, port: s.port, version: s.version };
  if (s.managed) {
    throw new CryptolambdaError(
      'STACK_START_FAILED',
      `${name} (pid ${s.pid}) is running but not answering on port ${s.port}`,
      `see ${s.logFile}; \`cryptolambda stack down\` then \`cryptolambda stack up\` restarts it`,
    );
  }
  const rec = await start(config, log);
  return { name, action: 'started', pid: rec.pid, port: rec.port, version: rec.version };
};

/** Idempotent: a second `up` finds both services healthy and only re-checks the topics. */
export const stackUp = async (config: Config, log: Log = () => undefined): Promise<StackUpResult> => {
  // Data, logs and credentials of the stack are private to the user, also in a state dir made
  // before this default (a directory 0700 closes everything under it).
  await privateDirs([config.stateDir, ...['redis', 'kafka', 'logs', 'run'].map((d) => path.join(config.stateDir, d))]);
  // Redis first: it starts in milliseconds, so a broken install is reported before the JVM boots.
  const redis = await bringUp('redis', config, log, redisStatus, startRedis);
  // A broker an older `stack up` started without authentication is restarted, secured.
  await restartOutdatedKafka(config, log);
  const kafka = await bringUp('kafka', config, log, kafkaStatus, startKafka);
  // The SCRAM credentials may have been generated just now, after `config` was resolved.
  const authed = withStackKafka(config);
  const topics = await withAdmin(authed, (admin) => ensureTopics(admin, config.topicPrefix), false);
  if (topics.created.length > 0) log(`created topics: ${topics.created.join(', ')}`);
  return { components: [kafka, redis], topics };
};

/** Stops only what `up` started (recorded pid whose start time still matches). */
export const stackDown = async (config: Config, graceMs = 30_000): Promise<StackDownResult> => {
  const components: StackDownResult['components'] = [];
  // Kafka before Redis: a stream worker still running would checkpoint into Redis last.
  for (const name of ['kafka', 'redis'] as const) {
    const rec = await readRecord(config.stateDir, name);
    if (!rec) {
      components.push({ name, result: 'not-running', pid: null });
      continue;
    }
    const result = isOurs(rec) ? await stopProcess(rec, graceMs) : 'not-running';
    await removeRecord(config.stateDir, name);
    components.push({ name, result, pid: rec.pid });
  }
  return { components };
};

export const stackStatus = async (config: Config): Promise<StackStatusResult> => {
  const [kafka, redis] = await Promise.all([kafkaStatus(config), redisStatus(config)]);
  let topics: StackStatusResult['topics'] = ALL_TOPICS.map((t) => ({
    name: `${config.topicPrefix}${t.name}`,
    present: false,
  }));
  if (kafka.healthy) {
    const existing = new Set(await withAdmin(config, (a) => a.listTopics()).catch(() => [] as string[]));
    topics = topics.map((t) => ({ ...t, present: existing.has(t.name) }));
  }
  return { healthy: kafka.healthy && redis.healthy, components: [kafka, redis], topics };
};
