import { describe, expect, it } from 'vitest';
import { ProgressLog } from '../../src/cli/log.js';

const NOW = new Date('2026-11-23T10:00:05.250Z');
const sink = (isTTY: boolean) => {
  const chunks: string[] = [];
  return { chunks, out: { isTTY, write: (s: string) => void chunks.push(s) } };
};

describe('ProgressLog', () => {
  it('text on a pipe: every progress, metrics and step line carries its UTC time', () => {
    const s = sink(false);
    const log = new ProgressLog('text', s.out, () => NOW);
    log.line('pipeline 2026-11-23: run r1');
    log.statusLine('ingest 10/20 records');
    log.endStatus();
    expect(s.chunks.join('')).toBe(
      '2026-11-23T10:00:05.250Z pipeline 2026-11-23: run r1\n2026-11-23T10:00:05.250Z ingest 10/20 records\n',
    );
  });

  it('text on a terminal: the status line is redrawn in place and erased before any other line', () => {
    const s = sink(true);
    const log = new ProgressLog('text', s.out, () => NOW);
    log.statusLine('batch [##  ] 1/2');
    log.line('a step');
    log.clearStatus();
    expect(s.chunks).toEqual([
      '\r\x1b[K10:00:05 batch [##  ] 1/2',
      '\r\x1b[K',
      '2026-11-23T10:00:05.250Z a step\n',
      '\r\x1b[K10:00:05 batch [##  ] 1/2',
      '\r\x1b[K',
    ]);
  });

  it('json: one pino record per line with level, time, msg and the fields', () => {
    const s = sink(true);
    const log = new ProgressLog('json', s.out, () => NOW);
    log.line('stream metrics', { metrics: { lag: 3 } });
    log.statusLine('ingest 1/2');
    log.line('careful', {}, 'warn');
    const recs = s.chunks
      .join('')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(recs.map((r) => [r.level, r.msg, typeof r.time])).toEqual([
      [30, 'stream metrics', 'number'],
      [30, 'ingest 1/2', 'number'],
      [40, 'careful', 'number'],
    ]);
    expect(recs[0].metrics).toEqual({ lag: 3 });
  });

  it('quiet (text with --json) writes nothing', () => {
    const s = sink(false);
    const log = new ProgressLog('text', s.out, () => NOW, true);
    log.line('x');
    log.statusLine('y');
    expect(s.chunks).toEqual([]);
  });
});
