import { describe, expect, it } from 'vitest';
import { colorEnabled, fullScreenEnabled, makeChalk, renderTable } from '../../src/cli/render.js';

const tty = { isTTY: true } as NodeJS.WriteStream;
const pipe = { isTTY: false } as NodeJS.WriteStream;

describe('fullScreenEnabled', () => {
  it('is on for a terminal outside CI, off for a pipe', () => {
    expect(fullScreenEnabled(tty, {})).toBe(true);
    expect(fullScreenEnabled(pipe, {})).toBe(false);
  });
  it('is off in CI, where Ink would draw no frame until exit, unless CI is 0 or false', () => {
    expect(fullScreenEnabled(tty, { CI: 'true' })).toBe(false);
    expect(fullScreenEnabled(tty, { CI: '' })).toBe(false);
    expect(fullScreenEnabled(tty, { CONTINUOUS_INTEGRATION: '1' })).toBe(false);
    expect(fullScreenEnabled(tty, { CI: '0' })).toBe(true);
    expect(fullScreenEnabled(tty, { CI: 'false' })).toBe(true);
  });
});

describe('colorEnabled', () => {
  it('is on for a terminal, off for a pipe', () => {
    expect(colorEnabled(tty, {})).toBe(true);
    expect(colorEnabled(pipe, {})).toBe(false);
  });
  it('NO_COLOR wins over a terminal and FORCE_COLOR', () => {
    expect(colorEnabled(tty, { NO_COLOR: '1' })).toBe(false);
    expect(colorEnabled(tty, { NO_COLOR: '1', FORCE_COLOR: '1' })).toBe(false);
  });
  it('FORCE_COLOR turns it on for a pipe', () => {
    expect(colorEnabled(pipe, { FORCE_COLOR: '1' })).toBe(true);
  });
});

describe('renderTable', () => {
  it('renders plain ASCII without escape codes when colour is off', () => {
    const out = renderTable(['a', 'bb'], [[1, 'x']], { color: false });
    expect(out).toBe(['+---+----+', '| a | bb |', '+---+----+', '| 1 | x  |', '+---+----+'].join('\n'));
  });
  it('a disabled chalk emits no ANSI codes', () => {
    expect(makeChalk(false).red('loss')).toBe('loss');
    expect(makeChalk(true).red('loss')).toBe('\u001b[31mloss\u001b[39m');
  });
});
