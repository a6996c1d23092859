import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

// The built CLI as a subprocess, no stack needed: oclif conventions and the configuration file.
const dir = mkdtempSync(path.join(tmpdir(), 'cl-conv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('oclif conventions (plugin-help, plugin-not-found, plugin-autocomplete, plugin-version)', () => {
  it('help <cmd> and -h print the command help', async () => {
    const a = await runCli(['help', 'portfolio']);
    const b = await runCli(['portfolio', '-h']);
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    expect(a.stdout).toContain('$ cryptolambda portfolio USER');
    expect(b.stdout).toBe(a.stdout);
    for (const l of a.stdout.split('\n')) expect(l.length, l).toBeLessThanOrEqual(80);
  });

  it('an unknown command exits 127 naming it, with the closest command (asked interactively on a terminal)', async () => {
    const r = await runCli(['portfolo', 'u1']);
    expect(r.code).toBe(127);
    expect(r.stderr).toContain('portfolo u1 is not a cryptolambda command');
    expect(r.stderr).toContain('Did you mean: cryptolambda portfolio?');
  });

  it('version, --version and -v', async () => {
    for (const args of [['version'], ['--version'], ['-v']]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/^cryptolambda\/0\.1\.0 /);
    }
  });

  it('autocomplete prints the shell setup', async () => {
    const r = await runCli(['autocomplete', 'bash'], { XDG_CACHE_HOME: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('cryptolambda autocomplete script bash');
  });

  it('a duration flag takes the one syntax and rejects garbage with exit 2', async () => {
    const r = await runCli(['ticker', '--once', '--stale-after', 'soon', '--redis-url', 'redis://127.0.0.1:1/0']);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(
      'Error: Parsing --stale-after: "soon" is not a duration (e.g. 500ms, 30s, 5m, 2h, 2d)',
    );
  });
});

describe('configuration file through the CLI', () => {
  const file = path.join(dir, 'cryptolambda.yaml');
  writeFileSync(
    file,
    'topicPrefix: file.\nkafkaBrokers: file:9092\nprofiles:\n  prod:\n    topicPrefix: prod.\n    redisUrl: redis://u:s3cret@prod:6379/0\n',
  );

  it('config show --json: flags > env > file (profile) > defaults, secrets masked', async () => {
    const r = await runCli(['config', 'show', '--json', '--config', file, '--profile', 'prod', '--lake-dir', 'L'], {
      CRYPTOLAMBDA_KAFKA_BROKERS: 'env:9092',
      CRYPTOLAMBDA_TOPIC_PREFIX: '',
      CRYPTOLAMBDA_REDIS_URL: '',
      CRYPTOLAMBDA_LAKE_DIR: '',
    });
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.file).toBe(file);
    expect(j.profile).toBe('prod');
    expect(j.settings.topicPrefix).toBe('prod.');
    expect(j.settings.kafkaBrokers).toEqual(['env:9092']);
    expect(j.settings.redisUrl).toBe('redis://u:****@prod:6379/0');
    expect(j.settings.lakeDir).toBe(path.resolve('L'));
    expect(j.sources).toMatchObject({
      topicPrefix: expect.stringMatching(/cryptolambda\.yaml:5: profiles\.prod\.topicPrefix$/),
      kafkaBrokers: 'CRYPTOLAMBDA_KAFKA_BROKERS',
      lakeDir: '--lake-dir',
      clientId: 'default',
    });
    expect(r.stdout).not.toContain('s3cret');
  });

  it('config show for people: every setting with its source, within 80 columns', async () => {
    // A path longer than a line (a deep checkout or home): alone on the next line, never cut.
    const deep = path.join(dir, 'a'.repeat(60), 'b'.repeat(20), 'lake');
    const r = await runCli(['config', 'show', '--config', file], {
      CRYPTOLAMBDA_TOPIC_PREFIX: '',
      CRYPTOLAMBDA_LAKE_DIR: deep,
    });
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    // Wider than 80 columns only a lone value that cannot be broken (one indented token).
    for (const l of lines) if (l.length > 80) expect(l, l).toMatch(/^ {2,}\S+$/);
    expect(lines).toContain('lakeDir:');
    expect(lines[lines.indexOf('lakeDir:') + 1]).toBe(`  ${deep}`);
    expect(lines[0]).toBe(`file: ${file}`);
    expect(r.stdout).toContain('topicPrefix: file.\n  from ');
    expect(r.stdout).toMatch(/\nrewardTiers:\n {4}- name: Bronze\n/);
  });

  it('a bad value in the file exits 2 naming file, line and key', async () => {
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, 'topicPrefix: ok\ndq:\n  rowCountMinRatio: -1\n');
    const r = await runCli(['config', 'show', '--config', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toMatch(/bad\.yaml:3: dq\.rowCountMinRatio: /);
  });

  it('--profile without a file is an error, not silently ignored', async () => {
    const r = await runCli(['config', 'show', '--profile', 'prod'], { XDG_CONFIG_HOME: path.join(dir, 'none') });
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe('Error: --profile prod: no configuration file found');
  });
});
