import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { type Config, kafkaHost, kafkaPort, withStackKafka } from '../../config/config.js';
import {
  credentialsPath,
  ensureKafkaStackCredentials,
  type KafkaStackCredentials,
  writePrivateFile,
} from '../../config/stack-credentials.js';
import { CryptolambdaError } from '../../core/errors.js';
import { packagePath } from '../../paths.js';
import { jaasQuote, javaClientProperties, withAdmin } from '../kafka/client.js';
import {
  isAlive,
  isOurs,
  type ProcessRecord,
  processStartTicks,
  readRecord,
  removeRecord,
  spawnDetached,
  stopProcess,
  tailFile,
  waitFor,
  writeRecord,
} from './process.js';

const run = promisify(execFile);

/** The exact Kafka version is pinned in stack/kafka-pom.xml; everything else reads it from there. */
export const pinnedKafkaVersion = async (): Promise<string> => {
  const pom = await readFile(packagePath('stack', 'kafka-pom.xml'), 'utf8');
  const v = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(pom)?.[1];
  if (!v) throw new CryptolambdaError('INTERNAL', 'stack/kafka-pom.xml has no <kafka.version>');
  return v;
};

export const kafkaLibDir = (config: Config, version: string): string =>
  path.join(config.cacheDir, `kafka-${version}`, 'libs');

/** Fetch the pinned jars from Maven Central once (scripts/fetch-kafka.sh is idempotent). */
export const ensureKafkaJars = async (config: Config, version: string): Promise<string> => {
  const libs = kafkaLibDir(config, version);
  if (existsSync(path.join(libs, '.complete'))) return libs;
  try {
    await run('bash', [packagePath('scripts', 'fetch-kafka.sh')], {
      env: { ...process.env, CRYPTOLAMBDA_CACHE_DIR: config.cacheDir },
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (err) {
    throw new CryptolambdaError(
      'STACK_NOT_INSTALLED',
      `could not fetch Kafka ${version} jars from Maven Central`,
      'run `npm run setup` and check that Maven (mvn) and Java 17 are installed',
      { cause: err },
    );
  }
  if (!existsSync(path.join(libs, '.complete'))) {
    throw new CryptolambdaError('STACK_NOT_INSTALLED', `Kafka jars missing in ${libs} after fetch`);
  }
  return libs;
};

/**
 * Recorded with the broker's pid: a broker started by an older `stack up` (PLAINTEXT, no
 * authentication) has no such mark and is restarted by the next `stack up` (restartOutdatedKafka).
 */
export const KAFKA_SECURITY = 'sasl-scram-sha-256';

const SCRAM_MODULE = 'org.apache.kafka.common.security.scram.ScramLoginModule';
const PLAIN_MODULE = 'org.apache.kafka.common.security.plain.PlainLoginModule';

/**
 * Secure by default, loopback only. No listener accepts an unauthenticated connection:
 * - CLIENT (SASL_PLAINTEXT): SCRAM-SHA-256 for every client (the stack's generated user), and PLAIN
 *   for one internal user only, the broker itself: inter-broker traffic (transaction markers) and
 *   `stack up`'s repair of the SCRAM user must not depend on the SCRAM credential being in the
 *   metadata, and the Admin API to write SCRAM credentials is not served by a controller listener.
 * - CONTROLLER (SASL_PLAINTEXT, PLAIN, the same internal user): SCRAM cannot serve a KRaft
 *   controller (its credentials live in the metadata log the controller itself serves).
 * PLAIN users are declared here, in this 0600 file; the PLAIN password is the internal one, never
 * given to clients. The StandardAuthorizer admits only the two generated users (super users): a
 * SCRAM user added by anybody else can do nothing.
 */
const serverProperties = (config: Config, dataDir: string, creds: KafkaStackCredentials): string => {
  const host = kafkaHost(config);
  const port = kafkaPort(config);
  const ctl = config.kafkaControllerPort;
  const internal = `${PLAIN_MODULE} required username=${jaasQuote(creds.controllerUser)} password=${jaasQuote(creds.controllerPassword)} user_${creds.controllerUser}=${jaasQuote(creds.controllerPassword)};`;
  return `# Written by cryptolambda stack up: one KRaft node acting as broker and controller on loopback.
# Holds the generated passwords (see ${credentialsPath(config.stateDir)}): mode 0600.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=${host}:${ctl}
listeners=CLIENT://${host}:${port},CONTROLLER://${host}:${ctl}
advertised.listeners=CLIENT://${host}:${port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=CLIENT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT
inter.broker.listener.name=CLIENT
sasl.mechanism.inter.broker.protocol=PLAIN
sasl.mechanism.controller.protocol=PLAIN
listener.name.client.sasl.enabled.mechanisms=SCRAM-SHA-256,PLAIN
listener.name.client.scram-sha-256.sasl.jaas.config=${SCRAM_MODULE} required;
listener.name.client.plain.sasl.jaas.config=${internal}
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=${internal}
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:${creds.user};User:${creds.controllerUser}
allow.everyone.if.no.acl.found=false
log.dirs=${dataDir}
# Topics are created explicitly with their partition counts (src/core/topics.ts); a typo must fail.
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Single-node dev broker: start consumer groups without the 3 s join delay.
group.initial.rebalance.delay.ms=0
log.retention.check.interval.ms=300000
`;
};

export const javaArgs = (libs: string, logDir: string): string[] => [
  '-Xms256m',
  '-Xmx1g',
  '-XX:+UseG1GC',
  '-XX:MaxGCPauseMillis=20',
  '-Djava.awt.headless=true',
  `-Dlog4j2.configurationFile=${packagePath('stack', 'log4j2.yaml')}`,
  `-Dkafka.logs.dir=${logDir}`,
  '-cp',
  `${libs}/*`,
];

export const javaBin = (): string => (process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin', 'java') : 'java');

const formatStorage = async (libs: string, propsFile: string, dataDir: string, logDir: string): Promise<void> => {
  if (existsSync(path.join(dataDir, 'meta.properties'))) return;
  const base = javaArgs(libs, logDir);
  const { stdout } = await run(javaBin(), [...base, 'kafka.tools.StorageTool', 'random-uuid']);
  const clusterId = stdout.trim().split('\n').pop()!.trim();
  await run(javaBin(), [
    ...base,
    'kafka.tools.StorageTool',
    'format',
    '-t',
    clusterId,
    '-c',
    propsFile,
    '--standalone',
  ]);
};

export interface NodeStatus {
  readonly name: 'kafka' | 'redis';
  readonly healthy: boolean;
  readonly managed: boolean;
  readonly pid: number | null;
  readonly port: number;
  readonly version: string | null;
  readonly dataDir: string;
  readonly logFile: string | null;
  readonly detail: string;
}

export const kafkaPaths = (config: Config) => {
  const root = path.join(config.stateDir, 'kafka');
  return {
    root,
    dataDir: path.join(root, 'data'),
    propsFile: path.join(root, 'server.properties'),
    /** Java client settings (SASL included) for Kafka's shell tools and JVM clients: 0600. */
    clientPropsFile: path.join(config.stateDir, 'credentials', 'kafka-client.properties'),
    logFile: path.join(config.stateDir, 'logs', 'kafka.log'),
    logDir: path.join(config.stateDir, 'logs'),
  };
};

const saslRefused = (err: unknown): boolean => {
  for (let e: unknown = err, depth = 0; depth < 6 && e; depth++) {
    if ((e as { name?: string }).name === 'KafkaJSSASLAuthenticationError') return true;
    e = (e as { originalError?: unknown }).originalError ?? (e as { cause?: unknown }).cause;
  }
  return false;
};

/**
 * Healthy = the broker answers a metadata request with at least one broker, authenticated with the
 * stack's SCRAM user (read from the state dir: credentials generated by this very `stack up` are
 * not in a config resolved before it). `refused`: the broker is up but has no SCRAM credential for
 * this password (an old data dir, a rotated password).
 */
export const probeKafka = async (
  config: Config,
): Promise<{ brokers: number; controller: number | null } | { refused: true } | undefined> => {
  try {
    return await withAdmin(withStackKafka(config), async (admin) => {
      const c = await admin.describeCluster();
      return { brokers: c.brokers.length, controller: c.controller };
    });
  } catch (err) {
    return saslRefused(err) ? { refused: true } : undefined;
  }
};

/**
 * Create or update the SCRAM user through the client listener as the internal PLAIN user
 * (stack/ScramUser.java, run in java source-file mode on the broker's jars). The passwords go
 * through the environment of that one process, never its command line.
 */
const upsertScramUser = async (config: Config, libs: string, logDir: string, creds: KafkaStackCredentials) => {
  try {
    await run(javaBin(), [...javaArgs(libs, logDir), packagePath('stack', 'ScramUser.java')], {
      env: {
        ...process.env,
        CL_BOOTSTRAP: config.kafkaBrokers[0],
        CL_INTERNAL_USER: creds.controllerUser,
        CL_INTERNAL_PASSWORD: creds.controllerPassword,
        CL_SCRAM_USER: creds.user,
        CL_SCRAM_PASSWORD: creds.password,
      },
      timeout: 120_000,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (err) {
    const out = `${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}`;
    throw new CryptolambdaError(
      'STACK_START_FAILED',
      `could not create the SCRAM user ${JSON.stringify(creds.user)} on the local Kafka`,
      `${out.trim().split('\n').slice(-4).join('\n')}`,
      { cause: err },
    );
  }
};

/**
 * A broker we started before the stack was secured still runs with a PLAINTEXT listener and no
 * authentication, and one that refuses the stored credentials (rotated in the file while it ran)
 * cannot be repaired in place: stop it so that `stack up` starts it again with the current
 * credentials, on the same data dir.
 */
export const restartOutdatedKafka = async (config: Config, log: (msg: string) => void): Promise<void> => {
  const rec = await readRecord(config.stateDir, 'kafka');
  if (rec === undefined || !isOurs(rec)) return;
  // Credentials first: a file without its Kafka part (an older state dir, a rotation) gets new
  // ones here, and our running broker is then probed with them.
  ensureKafkaStackCredentials(config.stateDir, kafkaHost(config), kafkaPort(config));
  if (rec.security !== KAFKA_SECURITY) {
    log(`stopping Kafka (pid ${rec.pid}): it was started without authentication; restarting it with SASL/SCRAM`);
  } else {
    const answer = await probeKafka(config);
    if (answer === undefined || !('refused' in answer)) return;
    log(`stopping Kafka (pid ${rec.pid}): it refuses the stack credentials; restarting it to update them`);
  }
  await stopProcess(rec, 30_000);
  await removeRecord(config.stateDir, 'kafka');
};

export const startKafka = async (config: Config, log: (msg: string) => void): Promise<ProcessRecord> => {
  const version = await pinnedKafkaVersion();
  const libs = await ensureKafkaJars(config, version);
  const p = kafkaPaths(config);
  await mkdir(p.dataDir, { recursive: true, mode: 0o700 });
  await mkdir(p.logDir, { recursive: true, mode: 0o700 });
  const creds = ensureKafkaStackCredentials(config.stateDir, kafkaHost(config), kafkaPort(config));
  writePrivateFile(p.propsFile, serverProperties(config, p.dataDir, creds));
  await formatStorage(libs, p.propsFile, p.dataDir, p.logDir);
  log(`starting Kafka ${version} (KRaft, SASL/SCRAM-SHA-256) on ${config.kafkaBrokers[0]}`);
  const pid = await spawnDetached(javaBin(), [...javaArgs(libs, p.logDir), 'kafka.Kafka', p.propsFile], {
    logFile: p.logFile,
    cwd: p.root,
  });
  const rec: ProcessRecord = {
    name: 'kafka',
    pid,
    startTicks: processStartTicks(pid) ?? '',
    port: kafkaPort(config),
    version,
    dataDir: p.dataDir,
    logFile: p.logFile,
    startedAt: new Date().toISOString(),
    security: KAFKA_SECURITY,
  };
  await writeRecord(config.stateDir, rec);
  const wait = () =>
    waitFor(() => probeKafka(config), {
      timeoutMs: 90_000,
      intervalMs: 500,
      abort: () => (isAlive(pid) ? undefined : 'exited'),
    }).catch(() => undefined);
  let ok = await wait();
  if (ok && 'refused' in ok) {
    // A new data dir, one formatted before the stack was secured, or a rotated password: the
    // metadata has no SCRAM credential for this password yet. Idempotent (an upsert).
    log(`creating the SCRAM user ${JSON.stringify(creds.user)} (credentials in ${credentialsPath(config.stateDir)})`);
    await upsertScramUser(config, libs, p.logDir, creds);
    ok = await waitFor(
      async () => {
        const r = await probeKafka(config);
        return r && !('refused' in r) ? r : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 300, abort: () => (isAlive(pid) ? undefined : 'exited') },
    ).catch(() => undefined);
  }
  if (!ok || 'refused' in ok) {
    throw new CryptolambdaError(
      'STACK_START_FAILED',
      `Kafka did not become healthy on ${config.kafkaBrokers[0]}`,
      `see ${p.logFile}:\n${await tailFile(p.logFile, 8)}`,
    );
  }
  writePrivateFile(p.clientPropsFile, javaClientProperties(withStackKafka(config)));
  return rec;
};

export const kafkaStatus = async (config: Config): Promise<NodeStatus> => {
  const p = kafkaPaths(config);
  const rec = await readRecord(config.stateDir, 'kafka');
  const managed = rec !== undefined && isOurs(rec);
  const answer = await probeKafka(config);
  const probe = answer && !('refused' in answer) ? answer : undefined;
  return {
    name: 'kafka',
    healthy: probe !== undefined,
    managed,
    pid: managed ? rec!.pid : null,
    port: kafkaPort(config),
    version: managed ? rec!.version : probe ? 'external' : null,
    dataDir: p.dataDir,
    logFile: managed ? p.logFile : null,
    detail: probe
      ? `${probe.brokers} broker(s), controller ${probe.controller ?? 'unknown'}`
      : managed
        ? answer
          ? 'running but refuses the stack credentials (see docs/runbook.md, credentials)'
          : 'process running but not answering'
        : answer
          ? 'a broker answers but refuses the stack credentials'
          : 'not running',
  };
};
