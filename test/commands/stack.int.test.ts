import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAlive } from '../../src/adapters/stack/process.js';
import { resolveConfig } from '../../src/config/config.js';
import { runCli } from '../support/cli.js';

describe('cryptolambda stack (CLI, real processes)', () => {
  it('status --json reports both components healthy with port, pid, version and data dir', async () => {
    const r = await runCli(['stack', 'status', '--json']);
    expect(r.code).toBe(0);
    const status = JSON.parse(r.stdout);
    expect(status.healthy).toBe(true);
    expect(status.components.map((c: { name: string }) => c.name)).toEqual(['kafka', 'redis']);
    for (const c of status.components) {
      expect(Object.keys(c).sort()).toEqual([
        'dataDir',
        'detail',
        'healthy',
        'logFile',
        'managed',
        'name',
        'pid',
        'port',
        'version',
      ]);
      expect(c.healthy).toBe(true);
    }
    // The ports of the stack under test (19092/16379 unless CRYPTOLAMBDA_* move it).
    const config = resolveConfig({}, process.env);
    expect(status.components[0].port).toBe(Number(config.kafkaBrokers[0]!.split(':').at(-1)));
    expect(status.components[1].port).toBe(Number(new URL(config.redisUrl.split(',')[0]!).port));
    expect(status.topics.every((t: { present: boolean }) => t.present)).toBe(true);
  });

  it('up is harmless when the stack is already up', async () => {
    const r = await runCli(['stack', 'up', '--json']);
    expect(r.code).toBe(0);
    const up = JSON.parse(r.stdout);
    expect(up.components.map((c: { action: string }) => c.action).every((a: string) => a !== 'started')).toBe(true);
    expect(up.topics.created).toEqual([]);
  });

  it('a separate stack comes up, reports healthy, and down leaves no process behind', async () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), 'cl-stack-'));
    const env = {
      CRYPTOLAMBDA_STATE_DIR: stateDir,
      CRYPTOLAMBDA_KAFKA_BROKERS: '127.0.0.1:29092',
      CRYPTOLAMBDA_KAFKA_CONTROLLER_PORT: '29093',
      CRYPTOLAMBDA_REDIS_URL: 'redis://127.0.0.1:26379/0',
    };
    try {
      const down0 = await runCli(['stack', 'status', '--json'], env);
      expect(down0.code).toBe(1);
      expect(JSON.parse(down0.stdout).healthy).toBe(false);

      const up = await runCli(['stack', 'up', '--json'], env, 120_000);
      expect(up.code, up.stderr).toBe(0);
      const upJson = JSON.parse(up.stdout);
      expect(upJson.components.map((c: { action: string }) => c.action)).toEqual(['started', 'started']);
      expect(upJson.topics.created).toHaveLength(6);
      const pids: number[] = upJson.components.map((c: { pid: number }) => c.pid);

      const status = await runCli(['stack', 'status', '--json'], env);
      expect(status.code).toBe(0);
      const s = JSON.parse(status.stdout);
      expect(s.components.map((c: { managed: boolean; pid: number }) => [c.managed, c.pid])).toEqual([
        [true, pids[0]],
        [true, pids[1]],
      ]);
      expect(s.components[0].dataDir).toBe(path.join(stateDir, 'kafka', 'data'));

      const down = await runCli(['stack', 'down', '--json'], env, 60_000);
      expect(down.code).toBe(0);
      expect(JSON.parse(down.stdout).components.map((c: { result: string }) => c.result)).toEqual([
        'stopped',
        'stopped',
      ]);
      for (const pid of pids) expect(isAlive(pid)).toBe(false);

      const again = await runCli(['stack', 'down', '--json'], env);
      expect(JSON.parse(again.stdout).components.map((c: { result: string }) => c.result)).toEqual([
        'not-running',
        'not-running',
      ]);
    } finally {
      await runCli(['stack', 'down'], env);
      rmSync(stateDir, { recursive: true, force: true });
    }
  }, 180_000);

  it('check round-trips through Kafka and Redis', async () => {
    const r = await runCli(['stack', 'check', '--count', '500', '--json']);
    expect(r.code).toBe(0);
    const check = JSON.parse(r.stdout);
    expect(check.ok).toBe(true);
    expect(check.kafka.consumed).toBe(500);
    expect(check.kafka.inOrder).toBe(true);
    expect(check.redis.roundTrip).toBe(true);
  });
});
