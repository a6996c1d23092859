import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { ensureKafkaJars, javaArgs, javaBin, pinnedKafkaVersion } from '../../src/adapters/stack/kafka-node.js';
import type { Config } from '../../src/config/config.js';

/**
 * A private CA and a server certificate for 127.0.0.1/localhost signed by it, made with openssl in
 * `dir` (nothing is checked in: a committed key would be a secret in the repository).
 */
export const makeCa = (dir: string): { ca: string; key: string; cert: string; p12: string; p12Password: string } => {
  mkdirSync(dir, { recursive: true });
  const f = (n: string) => path.join(dir, n);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=cryptolambda test CA',
  );
  ssl(
    'req',
    '-new',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    f('server.key'),
    '-out',
    f('server.csr'),
    '-subj',
    '/CN=localhost',
  );
  writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl(
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.pem'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-out',
    f('server.pem'),
    '-days',
    '2',
    '-extfile',
    f('san.ext'),
  );
  const p12Password = 'keystore-pass';
  ssl(
    'pkcs12',
    '-export',
    '-in',
    f('server.pem'),
    '-inkey',
    f('server.key'),
    '-out',
    f('server.p12'),
    '-name',
    'broker',
    '-passout',
    `pass:${p12Password}`,
  );
  return { ca: f('ca.pem'), key: f('server.key'), cert: f('server.pem'), p12: f('server.p12'), p12Password };
};

export interface SecuredBroker {
  readonly saslSslPort: number;
  readonly ca: string;
  readonly users: { readonly scram: [string, string]; readonly plain: [string, string] };
  stop(): Promise<void>;
}

/**
 * A second, throw-away KRaft node of the project's pinned Kafka with a SASL_SSL listener (PLAIN and
 * SCRAM-SHA-512; the SCRAM user is written at format time, as `kafka-storage format --add-scram`
 * does for a real cluster) beside a PLAINTEXT one for itself.
 */
export const startSecuredBroker = async (config: Config, dir: string, ports: [number, number, number]) => {
  const [saslSslPort, internalPort, controllerPort] = ports;
  const certs = makeCa(path.join(dir, 'certs'));
  const libs = await ensureKafkaJars(config, await pinnedKafkaVersion());
  const data = path.join(dir, 'data');
  const props = path.join(dir, 'server.properties');
  const scram: [string, string] = ['alice', 'alice-scram-secret'];
  const plain: [string, string] = ['bob', 'bob-plain-secret'];
  writeFileSync(
    props,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.bootstrap.servers=127.0.0.1:${controllerPort}`,
      `listeners=SASL_SSL://127.0.0.1:${saslSslPort},INTERNAL://127.0.0.1:${internalPort},CONTROLLER://127.0.0.1:${controllerPort}`,
      `advertised.listeners=SASL_SSL://127.0.0.1:${saslSslPort},INTERNAL://127.0.0.1:${internalPort}`,
      'controller.listener.names=CONTROLLER',
      'listener.security.protocol.map=SASL_SSL:SASL_SSL,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT',
      'inter.broker.listener.name=INTERNAL',
      'sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512',
      `listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_${plain[0]}="${plain[1]}";`,
      'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
      'ssl.keystore.type=PKCS12',
      `ssl.keystore.location=${certs.p12}`,
      `ssl.keystore.password=${certs.p12Password}`,
      `log.dirs=${data}`,
      'auto.create.topics.enable=false',
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=1',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'share.coordinator.state.topic.replication.factor=1',
      'share.coordinator.state.topic.min.isr=1',
      'group.initial.rebalance.delay.ms=0',
      '',
    ].join('\n'),
  );
  const java = javaArgs(libs, path.join(dir, 'logs')).map((a) => (a === '-Xmx1g' ? '-Xmx512m' : a));
  const id = execFileSync(javaBin(), [...java, 'kafka.tools.StorageTool', 'random-uuid'])
    .toString()
    .trim()
    .split('\n')
    .pop()!;
  execFileSync(javaBin(), [
    ...java,
    'kafka.tools.StorageTool',
    'format',
    '-t',
    id.trim(),
    '-c',
    props,
    '--standalone',
    '--add-scram',
    `SCRAM-SHA-512=[name=${scram[0]},password=${scram[1]}]`,
  ]);
  const child: ChildProcess = spawn(javaBin(), [...java, 'kafka.Kafka', props], { stdio: 'ignore' });
  // Ready = the PLAINTEXT side answers metadata (the secured side is what the tests exercise).
  const probe = new Kafka({
    brokers: [`127.0.0.1:${internalPort}`],
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
  });
  const deadline = Date.now() + 90_000;
  for (;;) {
    const admin = probe.admin();
    try {
      await admin.connect();
      await admin.describeCluster();
      await admin.disconnect();
      break;
    } catch {
      await admin.disconnect().catch(() => undefined);
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill('SIGKILL');
        throw new Error('secured Kafka did not start');
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  return {
    saslSslPort,
    ca: certs.ca,
    users: { scram, plain },
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise<void>((res) => {
        const t = setTimeout(() => {
          child.kill('SIGKILL');
          res();
        }, 20_000);
        child.once('exit', () => {
          clearTimeout(t);
          res();
        });
      });
    },
  } satisfies SecuredBroker;
};
