import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { type Config, kafkaHost, kafkaPort } from '../../config/config.js';
import { CryptolambdaError } from '../../core/errors.js';
import { packagePath } from '../../paths.js';
import { withAdmin } from '../kafka/client.js';
import {
  isAlive,
  isOurs,
  type ProcessRecord,
  processStartTicks,
  readRecord,
  spawnDetached,
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

const serverProperties = (config: Config, dataDir: string): string => {
  const host = kafkaHost(config);
  const port = kafkaPort(config);
  const ctl = config.kafkaControllerPort;
  return `# Written by cryptolambda stack up: one KRaft node acting as broker and controller on loopback.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=${host}:${ctl}
listeners=PLAINTEXT://${host}:${port},CONTROLLER://${host}:${ctl}
advertised.listeners=PLAINTEXT://${host}:${port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
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
    logFile: path.join(config.stateDir, 'logs', 'kafka.log'),
    logDir: path.join(config.stateDir, 'logs'),
  };
};

/** Healthy = the broker answers a metadata request with at least one broker. */
export const probeKafka = async (
  config: Config,
): Promise<{ brokers: number; controller: number | null } | undefined> => {
  try {
    return await withAdmin(config, async (admin) => {
      const c = await admin.describeCluster();
      return { brokers: c.brokers.length, controller: c.controller };
    });
  } catch {
    return undefined;
  }
};

export const startKafka = async (config: Config, log: (msg: string) => void): Promise<ProcessRecord> => {
  const version = await pinnedKafkaVersion();
  const libs = await ensureKafkaJars(config, version);
  const p = kafkaPaths(config);
  await mkdir(p.dataDir, { recursive: true });
  await mkdir(p.logDir, { recursive: true });
  await writeFile(p.propsFile, serverProperties(config, p.dataDir));
  await formatStorage(libs, p.propsFile, p.dataDir, p.logDir);
  log(`starting Kafka ${version} (KRaft) on ${config.kafkaBrokers[0]}`);
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
  };
  await writeRecord(config.stateDir, rec);
  const ok = await waitFor(() => probeKafka(config), {
    timeoutMs: 90_000,
    intervalMs: 500,
    abort: () => (isAlive(pid) ? undefined : 'exited'),
  }).catch(() => undefined);
  if (!ok) {
    throw new CryptolambdaError(
      'STACK_START_FAILED',
      `Kafka did not become healthy on ${config.kafkaBrokers[0]}`,
      `see ${p.logFile}:\n${await tailFile(p.logFile, 8)}`,
    );
  }
  return rec;
};

export const kafkaStatus = async (config: Config): Promise<NodeStatus> => {
  const p = kafkaPaths(config);
  const rec = await readRecord(config.stateDir, 'kafka');
  const managed = rec !== undefined && isOurs(rec);
  const probe = await probeKafka(config);
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
        ? 'process running but not answering'
        : 'not running',
  };
};
