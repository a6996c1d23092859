import { describe, expect, it } from 'vitest';
import { ensureTopics, withAdmin } from '../../../src/adapters/kafka/client.js';
import { readRecord } from '../../../src/adapters/stack/process.js';
import { spawnCli } from '../../support/cli.js';
import { cleanupTopicsAfter, testConfig } from '../../support/int.js';

const GRACE_MS = 3000;

const start = (args: string[], env: Record<string, string>) => spawnCli(args, env, GRACE_MS);

describe('every command stops within a bounded time on SIGTERM, broker down or not', () => {
  it('simulate --follow and produce stop within the grace period while the broker is frozen, saying what was left', async () => {
    const config = testConfig();
    cleanupTopicsAfter(config);
    await withAdmin(config, (a) => ensureTopics(a, config.topicPrefix));
    const kafka = await readRecord(config.stateDir, 'kafka');
    if (!kafka) throw new Error('the test stack must be started by cryptolambda (stack up) to freeze its broker');
    const env = { CRYPTOLAMBDA_TOPIC_PREFIX: config.topicPrefix };
    const produce = start(['produce', 'prices', '--source', 'synthetic', '--rate', '500'], env);
    const simulate = start(['simulate', '--follow', '--users', '50', '--rate', '200'], env);
    try {
      await new Promise((r) => setTimeout(r, 6000));
      // The broker stops answering (what a broker restart or a network split looks like to a client).
      process.kill(kafka.pid, 'SIGSTOP');
      await new Promise((r) => setTimeout(r, 1000));
      const t0 = Date.now();
      produce.child.kill('SIGTERM');
      simulate.child.kill('SIGTERM');
      const [p, s] = await Promise.all([produce.exited, simulate.exited]);
      // Before: simulate --follow ignored SIGTERM for 150-330 s after a broker restart.
      expect(p.at - t0).toBeLessThan(GRACE_MS + 3000);
      expect(s.at - t0).toBeLessThan(GRACE_MS + 3000);
      for (const [r, out] of [
        [p, produce.stderr()],
        [s, simulate.stderr()],
      ] as const) {
        if (r.code !== 0) {
          expect(r.code).toBe(143);
          expect(out).toMatch(
            /stopped by SIGTERM without a clean shutdown \(after 3 s\); (left unacknowledged: |nothing)/,
          );
        }
      }
    } finally {
      process.kill(kafka.pid, 'SIGCONT');
      produce.child.kill('SIGKILL');
      simulate.child.kill('SIGKILL');
    }
    // The broker is back for the next tests.
    await withAdmin(config, (a) => a.listTopics());
  }, 60_000);
});
