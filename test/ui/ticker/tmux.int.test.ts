import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, onTestFinished } from 'vitest';
import { seedLiveToday } from '../../app/ticker/seed.js';
import { BIN } from '../../support/cli.js';

/**
 * The full-screen ticker in a real terminal: tmux gives it an 80x24 pty (a TTY, so Ink renders),
 * and `capture-pane` reads back exactly what a user would see. Seeded speed-layer state in Redis
 * under a random keyspace, the built CLI, no mocks. scripts/setup.sh installs tmux.
 */
const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const tmux = (...args: string[]): string => execFileSync('tmux', args, { encoding: 'utf8' });

/** Starts `ticker --user alice` in a detached 80x24 tmux session; `ci` decides whether CI is set. */
const startTicker = async (ci: boolean): Promise<string> => {
  const config = await seedLiveToday();
  const session = `cl-ticker-${randomUUID().slice(0, 8)}`;
  const env = Object.entries({
    CRYPTOLAMBDA_REDIS_URL: config.redisUrl,
    CRYPTOLAMBDA_KAFKA_BROKERS: config.kafkaBrokers.join(','),
    NO_COLOR: '1',
    TERM: 'xterm-256color',
    ...(ci ? { CI: 'true' } : {}),
  }).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
  // A user's terminal is not CI: CI runners set CI (the tmux server inherits it), so unset it.
  const unset = ci ? [] : ['env', '-u', 'CI', '-u', 'CONTINUOUS_INTEGRATION'];
  tmux(
    'new-session',
    '-d',
    '-s',
    session,
    '-x',
    '80',
    '-y',
    '24',
    ...env,
    ...unset,
    process.execPath,
    BIN,
    'ticker',
    '--user',
    'alice',
    '--stale-after',
    '10m',
    '--topic-prefix',
    config.topicPrefix,
  );
  onTestFinished(() => {
    spawnSync('tmux', ['kill-session', '-t', session]);
  });
  return session;
};

const waitForScreen = async (session: string, done: (screen: string) => boolean): Promise<string> => {
  let screen = '';
  for (let i = 0; i < 40; i++) {
    await sleep(250);
    screen = tmux('capture-pane', '-p', '-t', session);
    if (done(screen)) break;
  }
  return screen;
};

describe.skipIf(!hasTmux)('ticker at 80x24 in tmux (built CLI, real Redis)', () => {
  it('fits the terminal: no line beyond 80 columns, every symbol and the portfolio on screen; q quits', async () => {
    const session = await startTicker(false);
    const screen = await waitForScreen(session, (s) => s.includes('SOLUSDT') && s.includes('alice'));
    const lines = screen.split('\n');
    expect(lines.length).toBeLessThanOrEqual(25);
    for (const l of lines) expect([...l].length, l).toBeLessThanOrEqual(80);
    for (const s of ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'alice']) expect(screen, s).toContain(s);
    expect(screen).toContain('q quit');
    tmux('send-keys', '-t', session, 'q');
    let alive = true;
    for (let i = 0; i < 20 && alive; i++) {
      await sleep(250);
      alive = spawnSync('tmux', ['has-session', '-t', session]).status === 0;
    }
    expect(alive).toBe(false);
  });

  it('with CI set (where Ink draws no frame until exit) prints the plain lines instead of a blank screen', async () => {
    const session = await startTicker(true);
    const screen = await waitForScreen(session, (s) => s.includes('SOLUSDT'));
    for (const s of ['BTCUSDT', 'ETHUSDT', 'SOLUSDT']) expect(screen, s).toContain(s);
    expect(screen).not.toContain('q quit');
  });
});
