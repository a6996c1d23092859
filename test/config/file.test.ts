import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CONFIG_KEYS, configSources, maskSecrets, resolveConfig, tiersOf } from '../../src/config/config.js';
import { findConfigFile, loadConfigFile } from '../../src/config/file.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cl-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const write = (name: string, text: string): string => {
  const p = path.join(dir, name);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, text);
  return p;
};

const FILE = `# shared by every profile
kafkaBrokers: file:9092
lakeDir: ./data/lake
dq:
  rowCountMaxRatio: 3
speed:
  allowedLateness: 1m
profiles:
  prod:
    redisUrl: redis://ops:hunter2@redis.prod:6379/1
    topicPrefix: prod.
`;

const load = (profile?: string) => loadConfigFile(write('cryptolambda.yaml', FILE), profile, CONFIG_KEYS);

describe('configuration file', () => {
  it('is found in the working directory, then $XDG_CONFIG_HOME/cryptolambda/, or named with --config', () => {
    const home = path.join(dir, 'home');
    const xdg = write('xdg/cryptolambda/config.yaml', 'topicPrefix: x.\n');
    expect(findConfigFile(undefined, path.join(dir, 'nowhere'), { XDG_CONFIG_HOME: path.join(dir, 'xdg') }, home)).toBe(
      xdg,
    );
    const local = write('cwd/cryptolambda.yaml', 'topicPrefix: y.\n');
    expect(findConfigFile(undefined, path.join(dir, 'cwd'), { XDG_CONFIG_HOME: path.join(dir, 'xdg') }, home)).toBe(
      local,
    );
    expect(() => findConfigFile('missing.yml', dir, {}, home)).toThrow(/--config: .*missing\.yml does not exist/);
    expect(findConfigFile(undefined, path.join(dir, 'nowhere'), {}, home)).toBeUndefined();
  });

  it('precedence: flags > environment > file (profile over top level) > defaults', () => {
    const cwd = path.join(dir, 'elsewhere');
    const file = load('prod');
    const c = resolveConfig({}, {}, cwd, file);
    expect(c.kafkaBrokers).toEqual(['file:9092']);
    expect(c.redisUrl).toBe('redis://ops:hunter2@redis.prod:6379/1');
    expect(c.topicPrefix).toBe('prod.');
    // Relative paths in the file resolve against the file's directory, not the cwd.
    expect(c.lakeDir).toBe(path.join(dir, 'data/lake'));
    // Nested settings given partly are completed from the defaults.
    expect(c.dq).toEqual({ rowCountMinRatio: 0.9, rowCountMaxRatio: 3, freshnessMaxAgeHours: 24, skip: [] });
    expect(c.speed.allowedLateness).toBe(60_000);
    expect(c.speed.outOfOrderness).toBe(5000);
    expect(c.clientId).toBe('cryptolambda');
    const env = { CRYPTOLAMBDA_KAFKA_BROKERS: 'env:9092', CRYPTOLAMBDA_TOPIC_PREFIX: 'env.' };
    const e = resolveConfig({}, env, cwd, file);
    expect([e.kafkaBrokers, e.topicPrefix]).toEqual([['env:9092'], 'env.']);
    const f = resolveConfig({ kafkaBrokers: 'flag:9092', lakeDir: 'l' }, env, cwd, file);
    expect([f.kafkaBrokers, f.topicPrefix, f.lakeDir]).toEqual([['flag:9092'], 'env.', path.join(cwd, 'l')]);
    expect(configSources({ kafkaBrokers: 'flag:9092' }, env, file)).toMatchObject({
      kafkaBrokers: '--kafka-brokers',
      topicPrefix: 'CRYPTOLAMBDA_TOPIC_PREFIX',
      redisUrl: expect.stringMatching(/cryptolambda\.yaml:10: profiles\.prod\.redisUrl$/),
      clientId: 'default',
    });
  });

  it('without a profile only the top level applies; an unknown profile is an error listing the known ones', () => {
    expect(resolveConfig({}, {}, dir, load()).topicPrefix).toBe('');
    expect(() => load('staging')).toThrow(/no profile "staging"/);
    try {
      load('staging');
    } catch (e) {
      expect((e as { hint?: string }).hint).toBe('profiles in the file: prod');
    }
  });

  it('errors name the file, the line and the key', () => {
    const bad = loadConfigFile(
      write('cryptolambda.yaml', 'topicPrefix: ok\nprofiles:\n  prod:\n    redisUrl: http://nope\n'),
      'prod',
      CONFIG_KEYS,
    );
    expect(() => resolveConfig({}, {}, dir, bad)).toThrow(
      /cryptolambda\.yaml:4: profiles\.prod\.redisUrl: expected redis:\/\/host:port\[\/db\] \(or a comma-separated list of cluster nodes\) \(got "http:\/\/nope"\)$/,
    );
    const tiers = loadConfigFile(
      write(
        'c2.yaml',
        'rewardTiers:\n  - { name: Base, threshold: "0", rate: "0.01", monthlyCap: "10" }\n  - name: Top\n    threshold: "100"\n    rate: lots\n    monthlyCap: "20"\n',
      ),
      undefined,
      CONFIG_KEYS,
    );
    expect(() => resolveConfig({}, {}, dir, tiers)).toThrow(/c2\.yaml:5: rewardTiers\.1\.rate: expected a decimal/);
    expect(() => loadConfigFile(write('c3.yaml', 'kafka_brokers: x:1\n'), undefined, CONFIG_KEYS)).toThrow(
      /c3\.yaml:1: kafka_brokers: unknown setting/,
    );
    expect(() => loadConfigFile(write('c4.yaml', 'a: [1,\n'), undefined, CONFIG_KEYS)).toThrow(/c4\.yaml:\d+: /);
    const dur = loadConfigFile(write('c5.yaml', 'speed:\n  userIdle: 2000\n'), undefined, CONFIG_KEYS);
    expect(() => resolveConfig({}, {}, dir, dur)).toThrow(/c5\.yaml:2: speed\.userIdle: /);
  });

  it('reward tiers from the file become the core tier table, checked', () => {
    const f = loadConfigFile(
      write('t.yaml', 'rewardTiers:\n  - { name: A, threshold: "0", rate: "0.01", monthlyCap: "10" }\n'),
      undefined,
      CONFIG_KEYS,
    );
    const t = tiersOf(resolveConfig({}, {}, dir, f));
    expect(t.map((x) => [x.name, x.rate.toPlain(), x.monthlyCap.toPlain()])).toEqual([['A', '0.01', '10']]);
    const g = loadConfigFile(
      write('t2.yaml', 'rewardTiers:\n  - { name: A, threshold: "5", rate: "0.01", monthlyCap: "10" }\n'),
      undefined,
      CONFIG_KEYS,
    );
    expect(() => resolveConfig({}, {}, dir, g)).toThrow(/t2\.yaml:2: rewardTiers: the first tier must start at 0/);
  });

  it('config show masks secrets: URL passwords and secret-named settings, generically', () => {
    expect(
      maskSecrets({
        redisUrl: 'redis://ops:hunter2@h:1/0',
        kafkaSaslPassword: 'pw',
        nested: { token: 't' },
        topicPrefix: 'p.',
      }),
    ).toEqual({
      redisUrl: 'redis://ops:****@h:1/0',
      kafkaSaslPassword: '****',
      nested: { token: '****' },
      topicPrefix: 'p.',
    });
  });
});
