import { Chalk, type ChalkInstance } from 'chalk';
import Table from 'cli-table3';

/**
 * Colour only for a terminal: NO_COLOR (any value) turns it off, a pipe or file gets plain text,
 * FORCE_COLOR turns it on for tests and demos.
 */
export const colorEnabled = (stream: NodeJS.WriteStream = process.stdout, env = process.env): boolean => {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return Boolean(stream.isTTY);
};

/**
 * A full-screen (Ink) view only on a terminal outside CI: with CI or CONTINUOUS_INTEGRATION set
 * (any value but 0 or false, the rule of the is-in-ci package Ink itself reads), Ink draws no
 * frame until it exits, so a full-screen command would show a blank screen. Callers fall back to
 * their plain line output there.
 */
export const fullScreenEnabled = (stream: NodeJS.WriteStream = process.stdout, env = process.env): boolean => {
  const flagged = (key: string) => env[key] !== undefined && env[key] !== '0' && env[key] !== 'false';
  return stream.isTTY === true && !flagged('CI') && !flagged('CONTINUOUS_INTEGRATION');
};

export const makeChalk = (enabled = colorEnabled()): ChalkInstance => new Chalk({ level: enabled ? 1 : 0 });

export const renderTable = (head: string[], rows: (string | number)[][], opts: { color?: boolean } = {}): string => {
  const color = opts.color ?? colorEnabled();
  const table = new Table({
    head,
    style: color ? { head: ['cyan'], border: ['grey'] } : { head: [], border: [] },
    chars: color
      ? {}
      : {
          top: '-',
          'top-mid': '+',
          'top-left': '+',
          'top-right': '+',
          bottom: '-',
          'bottom-mid': '+',
          'bottom-left': '+',
          'bottom-right': '+',
          left: '|',
          'left-mid': '+',
          mid: '-',
          'mid-mid': '+',
          right: '|',
          'right-mid': '+',
          middle: '|',
        },
  });
  for (const r of rows) table.push(r.map(String));
  return table.toString();
};
