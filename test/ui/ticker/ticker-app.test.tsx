import { render } from 'ink-testing-library';
import { describe, expect, it, vi } from 'vitest';
import type { RawSnapshot, TickerSource } from '../../../src/core/ticker/snapshot.js';
import { TickerApp } from '../../../src/ui/ticker/ticker-app.js';
import { loadSnapshot } from '../../core/ticker/load-fixture.js';

const DOWN = '\u001B[B';
const UP = '\u001B[A';

const fixed = (snap: RawSnapshot): TickerSource & { calls: number } => {
  const source = {
    calls: 0,
    snapshot: async () => {
      source.calls++;
      return snap;
    },
  };
  return source;
};

const mount = async (source: TickerSource, intervalMs = 60_000) => {
  const app = render(<TickerApp source={source} intervalMs={intervalMs} color={false} />);
  await vi.waitFor(() => expect(app.lastFrame()).toContain('SYMBOL'));
  return app;
};

/** Keys are asynchronous (Ink parses stdin, React re-renders): wait for the frame to show the change. */
const press = async (app: Awaited<ReturnType<typeof mount>>, key: string, expected: string) => {
  app.stdin.write(key);
  await vi.waitFor(() => expect(app.lastFrame()).toBe(expected));
};

const header = 'cryptolambda ticker  2026-11-25T10:00:30Z  watermark 10:00:27 (2s ago)';
const table = (selected: 'BTCUSDT' | 'ETHUSDT' | 'SOLUSDT') =>
  [
    '  SYMBOL              PRICE      1m      5m     24h  LAST 20m',
    `${selected === 'BTCUSDT' ? '▶' : ' '} BTCUSDT          43000.12  +0.52%  +0.02%  +2.38%  ▅▆▅▄▃▄▄▆▇█▁▇`,
    `${selected === 'ETHUSDT' ? '▶' : ' '} ETHUSDT           2297.50  -0.02%  -0.11%  -0.11%  ▆█▄▁▁`,
    `${selected === 'SOLUSDT' ? '▶' : ' '} SOLUSDT           98.1234  -0.38%  -0.38%  -0.38%  ▄`,
  ].join('\n');
const movers = 'Top movers (24h): BTCUSDT +2.38%  SOLUSDT -0.38%  ETHUSDT -0.11%';
const alice = 'alice  tier gold  value 27,095.06  P&L +1,894.56 (+7.52%)  unpriced: ADA';
const candleHead = '  TIME       OPEN      HIGH       LOW     CLOSE    VOLUME TRADES     CHG';
const btcCandles = `BTCUSDT last 10 1m candles (UTC)
${candleHead}
  10:00  42777.68  43001.62  42775.43  43000.12    1.2500    111  +0.52%  open
  09:59  43020.40  43021.90  42775.43  42777.68    1.2500    110  -0.56%
  09:58  42990.00  43021.90  42987.75  43020.40    1.2500    109  +0.07%
  09:57  42960.00  42991.50  42957.75  42990.00    1.2500    108  +0.07%
  09:56  42910.75  42961.50  42908.50  42960.00    1.2500    107  +0.11%
  09:55  42890.00  42912.25  42887.75  42910.75    1.2500    106  +0.05%
  09:54  42870.25  42891.50  42868.00  42890.00    1.2500    105  +0.05%
  09:53  42900.00  42901.50  42868.00  42870.25    1.2500    104  -0.07%
  09:52  42940.55  42942.05  42897.75  42900.00    1.2500    103  -0.09%
  09:51  42980.00  42981.50  42938.30  42940.55    1.2500    102  -0.09%`;
const ethCandles = `ETHUSDT last 5 1m candles (UTC)
${candleHead}
  10:00   2298.00   2299.50   2295.25   2297.50   10.5000    104  -0.02%  open
  09:59   2299.80   2301.30   2295.75   2298.00   10.5000    103  -0.08%
  09:58   2302.45   2303.95   2297.55   2299.80   10.5000    102  -0.12%
  09:57   2301.10   2303.95   2298.85   2302.45   10.5000    101  +0.06%
  09:56   2300.00   2302.60   2297.75   2301.10   10.5000    100  +0.05%`;
const solCandles = `SOLUSDT last 1 1m candles (UTC)
${candleHead}
  10:00   98.5000   98.9000   98.1000   98.1234  120.7500     42  -0.38%  open`;
const footer = '↑/↓ select · q quit';

const frame = (...blocks: string[]) => blocks.join('\n\n');

describe('TickerApp', () => {
  it('renders the live fixture: prices, changes, sparklines, movers, portfolio, candles of the first symbol', async () => {
    const app = await mount(fixed(loadSnapshot('live')));
    expect(app.lastFrame()).toBe(frame(header, table('BTCUSDT'), `${movers}\n${alice}`, btcCandles, footer));
    app.unmount();
  });

  it('moves the selection with the arrow keys and shows that symbol’s recent candles', async () => {
    const app = await mount(fixed(loadSnapshot('live')));
    await press(app, DOWN, frame(header, table('ETHUSDT'), `${movers}\n${alice}`, ethCandles, footer));
    await press(app, DOWN, frame(header, table('SOLUSDT'), `${movers}\n${alice}`, solCandles, footer));
    // the last row is a stop, not a wrap
    app.stdin.write(DOWN);
    await press(app, UP, frame(header, table('ETHUSDT'), `${movers}\n${alice}`, ethCandles, footer));
    await press(app, UP, frame(header, table('BTCUSDT'), `${movers}\n${alice}`, btcCandles, footer));
    app.unmount();
  });

  it('flags a stale speed layer in the header', async () => {
    const app = await mount(fixed(loadSnapshot('stale')));
    expect(app.lastFrame()?.split('\n')[0]).toBe(
      'cryptolambda ticker  2026-11-25T10:00:30Z  watermark 09:59:45 (45s ago)  STALE: watermark 45s behind',
    );
    app.unmount();
  });

  it('says so when Redis holds no data yet', async () => {
    const app = await mount(fixed(loadSnapshot('empty')));
    expect(app.lastFrame()).toBe(
      frame(
        'cryptolambda ticker  2026-11-25T10:00:30Z  STALE: no data',
        '  SYMBOL              PRICE      1m      5m     24h  LAST 20m\n  no symbols yet',
        'Top movers (5m): n/a',
        footer,
      ),
    );
    app.unmount();
  });

  it('keeps polling, keeps the last view on a failed refresh, and stops on q', async () => {
    const live = loadSnapshot('live');
    let fail = false;
    const source = {
      calls: 0,
      snapshot: async () => {
        source.calls++;
        if (fail) throw new Error('cannot reach Redis');
        return live;
      },
    };
    const app = await mount(source, 5);
    fail = true;
    await vi.waitFor(() => expect(app.lastFrame()?.split('\n')[1]).toBe('error: cannot reach Redis (retrying)'));
    expect(app.lastFrame()).toContain('▶ BTCUSDT          43000.12');
    fail = false;
    await vi.waitFor(() => expect(app.lastFrame()?.split('\n')[1]).toBe(''));
    app.stdin.write('q');
    await new Promise((r) => setTimeout(r, 30));
    const after = source.calls;
    await new Promise((r) => setTimeout(r, 60));
    expect(source.calls).toBe(after);
  });

  it('shows a loading header before the first snapshot', () => {
    const app = render(
      <TickerApp source={{ snapshot: () => new Promise(() => undefined) }} intervalMs={1000} color={false} />,
    );
    expect(app.lastFrame()).toBe(frame('cryptolambda ticker  loading…', footer));
    app.unmount();
  });
});
