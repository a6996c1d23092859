import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { type Admin, Kafka, type KafkaConfig, type logCreator, logLevel, type SASLOptions } from 'kafkajs';
import type { Config } from '../../config/config.js';
import { credentialsPath, stackKafkaSasl } from '../../config/stack-credentials.js';
import { CryptolambdaError } from '../../core/errors.js';
import { maskSecrets } from '../../core/redact.js';
import { ALL_TOPICS, TOPICS, type TopicSpec } from '../../core/topics.js';

/**
 * kafkajs logs JSON to stdout by default, which would corrupt `--json` output. Route its log
 * lines to stderr, and only at WARN or above unless CRYPTOLAMBDA_DEBUG is set.
 */
const stderrLogCreator: logCreator = () => (entry) => {
  const { message, ...rest } = entry.log;
  // A log entry may carry connection options (sasl, ssl): never print a credential or a key.
  const safe = JSON.stringify(rest, (k, v) => (/password|sasl|^key$|passphrase/i.test(k) ? '***' : v));
  process.stderr.write(`${maskSecrets(`kafkajs ${entry.label} [${entry.namespace}] ${message} ${safe}`)}\n`);
};

export interface KafkaClientOptions {
  /** Fail fast (health checks, CLI commands) instead of kafkajs's default ~30 s of retries. */
  readonly fast?: boolean;
  readonly clientIdSuffix?: string;
}

/** The CA file is read when the client is built, so a missing file is one INVALID_CONFIG line. */
const readPem = (file: string, setting: string): string => {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new CryptolambdaError('INVALID_CONFIG', `${setting}: cannot read ${file}`, 'point it at a PEM file', {
      cause: err,
    });
  }
};

/** TLS and SASL as kafkajs takes them; plaintext and no auth when nothing is configured. */
export const kafkaSecurity = (config: Config): Pick<KafkaConfig, 'ssl' | 'sasl'> => {
  const out: Pick<KafkaConfig, 'ssl' | 'sasl'> = {};
  if (config.kafkaSsl || config.kafkaSslCa) {
    const tls: ConnectionOptions = {};
    if (config.kafkaSslCa) tls.ca = [readPem(config.kafkaSslCa, 'CRYPTOLAMBDA_KAFKA_SSL_CA')];
    out.ssl = config.kafkaSslCa ? tls : true;
  }
  if (config.kafkaSaslMechanism !== 'none') {
    out.sasl = {
      mechanism: config.kafkaSaslMechanism,
      username: config.kafkaSaslUsername,
      password: config.kafkaSaslPassword,
    } as SASLOptions;
  }
  return out;
};

const JAVA_SASL: Record<Exclude<Config['kafkaSaslMechanism'], 'none'>, { mechanism: string; module: string }> = {
  plain: { mechanism: 'PLAIN', module: 'org.apache.kafka.common.security.plain.PlainLoginModule' },
  'scram-sha-256': { mechanism: 'SCRAM-SHA-256', module: 'org.apache.kafka.common.security.scram.ScramLoginModule' },
  'scram-sha-512': { mechanism: 'SCRAM-SHA-512', module: 'org.apache.kafka.common.security.scram.ScramLoginModule' },
};

/** A JAAS option value: double-quoted, `\` and `"` escaped (Kafka's JaasConfig tokenizer). */
export const jaasQuote = (v: string): string => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
/** A java.util.Properties value: backslashes doubled, line breaks escaped. */
const propValue = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r');

/**
 * The same connection as Java client properties: Kafka's shell tools (`--command-config`), the
 * Kafka Streams peer of the benchmarks, any JVM client. It holds the password: write it 0600.
 */
export const javaClientProperties = (config: Config): string => {
  const tls = config.kafkaSsl || config.kafkaSslCa !== '';
  const sasl = config.kafkaSaslMechanism !== 'none';
  const lines = [
    '# Written by cryptolambda: Kafka client settings of this configuration (secret: keep it 0600).',
    `bootstrap.servers=${config.kafkaBrokers.join(',')}`,
    `security.protocol=${sasl ? (tls ? 'SASL_SSL' : 'SASL_PLAINTEXT') : tls ? 'SSL' : 'PLAINTEXT'}`,
  ];
  if (config.kafkaSslCa)
    lines.push('ssl.truststore.type=PEM', `ssl.truststore.location=${propValue(config.kafkaSslCa)}`);
  if (config.kafkaSaslMechanism !== 'none') {
    const j = JAVA_SASL[config.kafkaSaslMechanism];
    lines.push(
      `sasl.mechanism=${j.mechanism}`,
      `sasl.jaas.config=${propValue(`${j.module} required username=${jaasQuote(config.kafkaSaslUsername)} password=${jaasQuote(config.kafkaSaslPassword)};`)}`,
    );
  }
  return `${lines.join('\n')}\n`;
};

export const createKafka = (config: Config, opts: KafkaClientOptions = {}): Kafka => {
  const kc: KafkaConfig = {
    ...kafkaSecurity(config),
    clientId: opts.clientIdSuffix ? `${config.clientId}-${opts.clientIdSuffix}` : config.clientId,
    brokers: [...config.kafkaBrokers],
    logLevel: process.env.CRYPTOLAMBDA_DEBUG ? logLevel.INFO : logLevel.NOTHING,
    logCreator: stderrLogCreator,
    connectionTimeout: opts.fast ? 2000 : 5000,
    requestTimeout: 30_000,
    retry: opts.fast ? { retries: 1, initialRetryTime: 100, maxRetryTime: 500 } : { retries: 8, initialRetryTime: 200 },
  };
  return new Kafka(kc);
};

const CONNECTION_ERRORS = new Set([
  'KafkaJSConnectionError',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSBrokerNotFound',
]);

/** Map kafkajs's connection failures to one clear, actionable error. */
export const toBrokerError = (err: unknown, config: Config): unknown => {
  // A missing topic is not an unreachable broker (kafkajs retries it into the same
  // "retries exceeded" error): look for the protocol error first and say how to create it.
  for (let e: unknown = err, depth = 0; depth < 6 && e; depth++) {
    if ((e as { type?: string }).type === 'UNKNOWN_TOPIC_OR_PARTITION') {
      return new CryptolambdaError(
        'NOT_FOUND',
        `a topic does not exist on ${config.kafkaBrokers.join(',')} (topic prefix ${JSON.stringify(config.topicPrefix)}); see \`cryptolambda topics list\``,
        'create the topics with `cryptolambda stack up` (every topic under the prefix), or check --topic-prefix',
        { cause: err },
      );
    }
    e = (e as { originalError?: unknown }).originalError ?? (e as { cause?: unknown }).cause;
  }
  // Retries wrap the cause: look for a closed connection anywhere in the chain first.
  for (let e: unknown = err, depth = 0; depth < 6 && e; depth++) {
    const name = (e as { name?: string }).name;
    if (name === 'KafkaJSConnectionClosedError' && config.kafkaSaslMechanism === 'none') {
      // What a SASL listener does to a client that skips authentication (the local stack's).
      return new CryptolambdaError(
        'BROKER_UNREACHABLE',
        `Kafka at ${config.kafkaBrokers.join(',')} closed the connection`,
        "the broker probably requires authentication: the local stack's credentials are used when no SASL mechanism is set (not even `none`); for another broker set CRYPTOLAMBDA_KAFKA_SASL_MECHANISM / _USERNAME / _PASSWORD",
        { cause: err },
      );
    }
    e = (e as { cause?: unknown; originalError?: unknown }).originalError ?? (e as { cause?: unknown }).cause;
  }
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e; depth++) {
    const name = (e as { name?: string }).name;
    if (name === 'KafkaJSSASLAuthenticationError') {
      const stack = stackKafkaSasl(config.stateDir, config.kafkaBrokers, false);
      return new CryptolambdaError(
        'BROKER_UNREACHABLE',
        `Kafka at ${config.kafkaBrokers.join(',')} refused SASL ${config.kafkaSaslMechanism} for user ${JSON.stringify(config.kafkaSaslUsername)}`,
        stack?.password === config.kafkaSaslPassword
          ? `the broker does not know the stack credentials in ${credentialsPath(config.stateDir)}: \`cryptolambda stack up\` restarts it with them`
          : 'check CRYPTOLAMBDA_KAFKA_SASL_USERNAME / _PASSWORD / _MECHANISM',
        { cause: err },
      );
    }
    if (name && CONNECTION_ERRORS.has(name)) {
      return new CryptolambdaError(
        'BROKER_UNREACHABLE',
        `cannot reach Kafka at ${config.kafkaBrokers.join(',')}`,
        'start the local stack with `cryptolambda stack up`, or set CRYPTOLAMBDA_KAFKA_BROKERS',
        { cause: err },
      );
    }
    e = (e as { cause?: unknown; originalError?: unknown }).originalError ?? (e as { cause?: unknown }).cause;
  }
  return err;
};

export const withAdmin = async <T>(config: Config, fn: (admin: Admin) => Promise<T>, fast = true): Promise<T> => {
  const admin = createKafka(config, { fast, clientIdSuffix: 'admin' }).admin();
  try {
    await admin.connect();
    return await fn(admin);
  } catch (err) {
    throw toBrokerError(err, config);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
};

/**
 * Retry an admin call that failed with a retriable broker error (a partition leader not yet known
 * right after topic creation, a coordinator moving), with short backoff, up to `attempts` times.
 */
export const retryRetriable = async <T>(fn: () => Promise<T>, attempts = 8): Promise<T> => {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const retriable = (err as { retriable?: boolean }).retriable === true;
      if (!retriable || i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** i, 2000)));
    }
  }
};

/** Wait until every partition of the topics has a leader in the cluster metadata. */
const waitForLeaders = async (admin: Admin, topics: readonly string[], timeoutMs = 15_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const meta = await retryRetriable(() => admin.fetchTopicMetadata({ topics: [...topics] }));
    const ready = meta.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0));
    if (ready) return;
    if (Date.now() > deadline) throw new Error(`topics have partitions without a leader after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

export interface EnsureTopicsResult {
  readonly created: string[];
  readonly existing: string[];
}

/** A topic whose partition count differs from the contract (src/core/topics.ts). */
export interface PartitionMismatch {
  readonly topic: string;
  readonly expected: number;
  readonly actual: number;
}

/** The co-partitioned input topics: the speed layer's state is sharded by their partition number. */
const RAW_SPECS: readonly TopicSpec[] = [TOPICS.prices, TOPICS.transactions, TOPICS.rewards];

/** Existing topics (of `specs`, plus the raw topics always) whose partition count is not the contract's. */
export const partitionMismatches = async (
  admin: Admin,
  prefix: string,
  specs: readonly TopicSpec[] = ALL_TOPICS,
): Promise<PartitionMismatch[]> => {
  const wanted = [...new Map([...RAW_SPECS, ...specs].map((s) => [s.name, s])).values()];
  const existing = new Set(await admin.listTopics());
  const present = wanted.filter((w) => existing.has(`${prefix}${w.name}`));
  if (present.length === 0) return [];
  const meta = await retryRetriable(() =>
    admin.fetchTopicMetadata({ topics: present.map((w) => `${prefix}${w.name}`) }),
  );
  const out: PartitionMismatch[] = [];
  for (const w of present) {
    const t = meta.topics.find((m) => m.name === `${prefix}${w.name}`);
    if (t !== undefined && t.partitions.length !== w.partitions)
      out.push({ topic: t.name, expected: w.partitions, actual: t.partitions.length });
  }
  return out;
};

/**
 * Refuse to produce or consume over topics that break the partition contract. Growing a topic
 * silently re-keys it: a user's later events land on a partition without their state (speed-only
 * rejects, reconcile mismatches). Shrinking is impossible in Kafka. Either needs the documented
 * repartition procedure, never an automatic fix.
 */
export const assertPartitionContract = async (
  admin: Admin,
  prefix: string,
  specs: readonly TopicSpec[] = ALL_TOPICS,
): Promise<void> => {
  const bad = await partitionMismatches(admin, prefix, specs);
  if (bad.length === 0) return;
  throw new CryptolambdaError(
    'PARTITION_MISMATCH',
    `topic partition counts break the contract: ${bad.map((b) => `${b.topic} has ${b.actual}, expected ${b.expected}`).join('; ')}`,
    'partition n of every raw topic must hold the same users and symbols; do not add partitions by hand. Repartition with the procedure in docs/runbook.md ("Repartitioning"): land the data in the lake (`ingest`, `batch`), `cryptolambda topics recreate --yes`, then `stream --bootstrap-from-batch --force`',
  );
};

/**
 * Create missing topics idempotently with explicit partition counts, then check the partition
 * contract of every topic that already existed: a mismatch is refused (PARTITION_MISMATCH), never
 * grown silently.
 */
export const ensureTopics = async (
  admin: Admin,
  prefix: string,
  specs: readonly TopicSpec[] = ALL_TOPICS,
): Promise<EnsureTopicsResult> => {
  const wanted = specs.map((s) => ({ ...s, physical: `${prefix}${s.name}` }));
  const existingNames = new Set(await admin.listTopics());
  const toCreate = wanted.filter((w) => !existingNames.has(w.physical));
  if (toCreate.length > 0) {
    // kafkajs's own leader wait retries only LEADER_NOT_AVAILABLE and fails on the
    // UNKNOWN_TOPIC_OR_PARTITION a busy KRaft broker returns right after creation; waitForLeaders
    // below retries every retriable error.
    await admin.createTopics({
      waitForLeaders: false,
      topics: toCreate.map((w) => ({
        topic: w.physical,
        numPartitions: w.partitions,
        replicationFactor: 1,
        configEntries: Object.entries(w.config ?? {}).map(([name, value]) => ({ name, value })),
      })),
    });
    await waitForLeaders(
      admin,
      toCreate.map((w) => w.physical),
    );
  }
  await assertPartitionContract(admin, prefix, specs);
  const present = wanted.filter((w) => existingNames.has(w.physical));
  return { created: toCreate.map((w) => w.physical), existing: present.map((w) => w.physical) };
};
