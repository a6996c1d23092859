import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { redisPort } from '../../src/config/config.js';
import { testConfig } from './int.js';

const root = path.resolve(import.meta.dirname, '../..');

/**
 * First port of the test's 3-node Redis Cluster: CRYPTOLAMBDA_TEST_CLUSTER_PORT, else derived from
 * the stack's Redis port (22379 -> 22001..22003), so agents sharing a machine never collide.
 */
export const clusterFirstPort = (): number =>
  Number(process.env.CRYPTOLAMBDA_TEST_CLUSTER_PORT ?? Math.floor(redisPort(testConfig()) / 1000) * 1000 + 1);

const dir = () => path.join(root, '.cryptolambda', 'redis-cluster');

/** Start (or reuse) the cluster with scripts/redis-cluster.sh; returns its URL list. */
export const startCluster = (): string => {
  mkdirSync(dir(), { recursive: true });
  return execFileSync(
    'bash',
    [path.join(root, 'scripts/redis-cluster.sh'), 'start', String(clusterFirstPort()), dir()],
    {
      encoding: 'utf8',
    },
  ).trim();
};

export const stopCluster = (): void => {
  execFileSync('bash', [path.join(root, 'scripts/redis-cluster.sh'), 'stop', String(clusterFirstPort()), dir()]);
};
