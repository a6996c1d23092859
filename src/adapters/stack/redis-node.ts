import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { type Config, redisHost, redisPort } from '../../config/config.js';
import { CryptolambdaError } from '../../core/errors.js';
import { connectRedis, redisVersion } from '../redis/client.js';
import type { NodeStatus } from './kafka-node.js';
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

export const redisPaths = (config: Config) => {
  const root = path.join(config.stateDir, 'redis');
  return {
    root,
    dataDir: path.join(root, 'data'),
    confFile: path.join(root, 'redis.conf'),
    logFile: path.join(config.stateDir, 'logs', 'redis.log'),
  };
};

export const redisServerBin = (): string => process.env.CRYPTOLAMBDA_REDIS_SERVER ?? 'redis-server';

const redisConf = (config: Config, dataDir: string, logFile: string): string => `# Written by cryptolambda stack up.
bind ${redisHost(config)}
port ${redisPort(config)}
protected-mode yes
daemonize no
dir ${dataDir}
logfile ${logFile}
# The speed layer commits state and Kafka offsets in one MULTI/EXEC; AOF makes that checkpoint
# survive a Redis restart (fsync every second: at most 1 s of checkpoints to replay from Kafka).
appendonly yes
appendfsync everysec
save ""
maxmemory-policy noeviction
`;

export const probeRedis = async (config: Config): Promise<{ version: string } | undefined> => {
  try {
    const r = await connectRedis(config, { name: 'cryptolambda-probe' });
    try {
      await r.ping();
      return { version: await redisVersion(r) };
    } finally {
      r.disconnect();
    }
  } catch {
    return undefined;
  }
};

export const startRedis = async (config: Config, log: (msg: string) => void): Promise<ProcessRecord> => {
  const bin = redisServerBin();
  let version: string;
  try {
    const { stdout } = await run(bin, ['--version']);
    version = /v=([0-9.]+)/.exec(stdout)?.[1] ?? 'unknown';
  } catch (err) {
    throw new CryptolambdaError(
      'STACK_NOT_INSTALLED',
      'redis-server is not installed',
      'run `npm run setup` (installs Debian redis-server) or `apt-get install redis-server`',
      { cause: err },
    );
  }
  const p = redisPaths(config);
  await mkdir(p.dataDir, { recursive: true });
  await mkdir(path.dirname(p.logFile), { recursive: true });
  await writeFile(p.confFile, redisConf(config, p.dataDir, p.logFile));
  log(`starting Redis ${version} on ${redisHost(config)}:${redisPort(config)}`);
  const pid = await spawnDetached(bin, [p.confFile], { logFile: p.logFile, cwd: p.root });
  const rec: ProcessRecord = {
    name: 'redis',
    pid,
    startTicks: processStartTicks(pid) ?? '',
    port: redisPort(config),
    version,
    dataDir: p.dataDir,
    logFile: p.logFile,
    startedAt: new Date().toISOString(),
  };
  await writeRecord(config.stateDir, rec);
  const ok = await waitFor(() => probeRedis(config), {
    timeoutMs: 20_000,
    intervalMs: 100,
    abort: () => (isAlive(pid) ? undefined : 'exited'),
  }).catch(() => undefined);
  if (!ok) {
    throw new CryptolambdaError(
      'STACK_START_FAILED',
      `Redis did not become healthy on ${redisHost(config)}:${redisPort(config)}`,
      `see ${p.logFile}:\n${await tailFile(p.logFile, 8)}`,
    );
  }
  return rec;
};

export const redisStatus = async (config: Config): Promise<NodeStatus> => {
  const p = redisPaths(config);
  const rec = await readRecord(config.stateDir, 'redis');
  const managed = rec !== undefined && isOurs(rec);
  const probe = await probeRedis(config);
  return {
    name: 'redis',
    healthy: probe !== undefined,
    managed,
    pid: managed ? rec!.pid : null,
    port: redisPort(config),
    version: probe?.version ?? (managed ? rec!.version : null),
    dataDir: p.dataDir,
    logFile: managed ? p.logFile : null,
    detail: probe ? 'PONG' : managed ? 'process running but not answering' : 'not running',
  };
};
