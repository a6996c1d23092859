import { describe, expect, it } from 'vitest';
import { runPlainTicker, tickerOnce } from '../../../src/app/ticker/ticker.js';
import { loadSnapshot } from '../../core/ticker/load-fixture.js';

describe('plain ticker loop', () => {
  it('prints every refresh, reports a failed one on stderr and stops on abort', async () => {
    const live = loadSnapshot('live');
    const out: string[] = [];
    const err: string[] = [];
    const stop = new AbortController();
    let calls = 0;
    const source = {
      snapshot: async () => {
        calls++;
        if (calls === 2) throw new Error('cannot reach Redis');
        if (calls === 3) stop.abort();
        return { ...live, user: null, symbols: ['BTCUSDT'], now: live.now + (calls - 1) * 1000 };
      },
    };
    await runPlainTicker({
      source,
      options: {},
      intervalMs: 1,
      write: (l) => out.push(l),
      warn: (l) => err.push(l),
      signal: stop.signal,
    });
    expect(out).toEqual([
      '2026-11-25T10:00:30Z BTCUSDT 43000.12 +0.52% 1m +0.02% 5m +2.38% 24h',
      '2026-11-25T10:00:32Z BTCUSDT 43000.12 +0.52% 1m +0.02% 5m +2.38% 24h',
    ]);
    expect(err).toEqual(['ticker: refresh failed: cannot reach Redis']);
  });

  it('tickerOnce applies the staleness threshold', async () => {
    const stale = loadSnapshot('stale');
    const source = { snapshot: async () => stale };
    expect((await tickerOnce(source, {})).staleReason).toBe('watermark 45s behind');
    expect((await tickerOnce(source, { staleAfterMs: 50_000 })).stale).toBe(false);
  });
});
