/**
 * The dashboard: plain DOM + lightweight-charts, bundled by esbuild at build time (no CDN). Data
 * comes only from the same HTTP API and live streams as any other client: the chart from
 * /v1/ohlcv and /v1/live/prices, the portfolio from /v1/portfolio and /v1/live/portfolio, status
 * from /v1/pipeline/status and /v1/reconcile. Amounts stay decimal strings; only the chart gets
 * numbers, because drawing needs them (never for figures shown as text).
 */
import {
  type CandlestickData,
  CandlestickSeries,
  createChart,
  type HistogramData,
  HistogramSeries,
  type IChartApi,
  type ISeriesApi,
  type UTCTimestamp,
} from 'lightweight-charts';

interface Candle {
  start: number;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
  final: boolean;
  source?: string;
}
interface LiveCandle extends Candle {
  interval: '1m' | '5m';
}
interface PriceEvent {
  symbol: string;
  price: string;
  eventTime: number;
  candles: LiveCandle[];
}
interface Line {
  asset: string;
  quantity: string;
  avgCost: string;
  price: string | null;
  marketValue: string | null;
  unrealizedPnl: string | null;
  realizedPnl: string;
}
interface Portfolio {
  userId: string;
  mode: string;
  tier: string | null;
  spend30d: string | null;
  positions: Line[];
  totals: Record<string, string | string[]>;
  freshness: {
    batchAsOf: string | null;
    speedDays: string[];
    usersWatermark: number | null;
    priceWatermark: number | null;
    priceAgeMs: number | null;
  };
  warnings: string[];
}

const params = new URLSearchParams(location.search);
// A token (serve --token) travels in the fragment, which browsers never send to a server or log.
const token = new URLSearchParams(location.hash.slice(1)).get('token');
const headers = (): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {});
const $ = <T extends HTMLElement>(sel: string): T => document.querySelector(sel) as T;

const api = async <T>(path: string): Promise<T> => {
  const r = await fetch(path, { headers: headers() });
  const body = (await r.json()) as T & { error?: { message: string } };
  if (!r.ok) throw new Error(body.error?.message ?? `${r.status}`);
  return body;
};

/** "40005.000000000000" -> "40,005.00": cut (not round) a decimal string for display, group thousands. */
export const fmt = (s: string | null | undefined, places = 2): string => {
  if (s === null || s === undefined) return '-';
  const neg = s.startsWith('-');
  const [int = '0', frac = ''] = (neg ? s.slice(1) : s).split('.');
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const f = places > 0 ? `.${frac.padEnd(places, '0').slice(0, places)}` : '';
  return `${neg ? '-' : ''}${grouped}${f}`;
};

/** Exact decimal string to a scaled BigInt (12 places), for the movers' percent change. */
const scaled = (s: string): bigint => {
  const neg = s.startsWith('-');
  const [i = '0', f = ''] = (neg ? s.slice(1) : s).split('.');
  const v = BigInt(i) * 10n ** 12n + BigInt((f + '0'.repeat(12)).slice(0, 12));
  return neg ? -v : v;
};

const pctChange = (from: string, to: string): { text: string; bp: bigint } => {
  const a = scaled(from);
  if (a === 0n) return { text: '-', bp: 0n };
  const bp = ((scaled(to) - a) * 10_000n) / a; // basis points, truncated
  const abs = bp < 0n ? -bp : bp;
  return { text: `${bp < 0n ? '-' : '+'}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}%`, bp };
};

const td = (text: string, cls = '', value?: string | null): HTMLTableCellElement => {
  const c = document.createElement('td');
  c.textContent = text;
  if (cls) c.className = cls;
  // The exact figure, for copy/paste and for the browser test to compare with the CLI.
  if (value !== undefined && value !== null) c.dataset.value = value;
  return c;
};

// ---- chart ----
let chart: IChartApi;
let candles: ISeriesApi<'Candlestick'>;
let volume: ISeriesApi<'Histogram'>;
let symbol = (params.get('symbol') ?? 'BTCUSDT').toUpperCase();
let interval: '1m' | '5m' = params.get('interval') === '5m' ? '5m' : '1m';

const toBar = (c: Candle): CandlestickData<UTCTimestamp> => ({
  time: (c.start / 1000) as UTCTimestamp,
  open: Number(c.open),
  high: Number(c.high),
  low: Number(c.low),
  close: Number(c.close),
});
const toVol = (c: Candle): HistogramData<UTCTimestamp> => ({
  time: (c.start / 1000) as UTCTimestamp,
  value: Number(c.volume),
  color: Number(c.close) >= Number(c.open) ? '#26a69a80' : '#ef535080',
});

const initChart = (): void => {
  chart = createChart($('#chart'), {
    layout: { background: { color: '#182029' }, textColor: '#d8dee6' },
    grid: { vertLines: { color: '#26313d' }, horzLines: { color: '#26313d' } },
    timeScale: { timeVisible: true, secondsVisible: false },
    autoSize: true,
  });
  candles = chart.addSeries(CandlestickSeries, {});
  volume = chart.addSeries(HistogramSeries, { priceFormat: { type: 'volume' }, priceScaleId: 'vol' });
  chart.priceScale('vol').applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
};

const loadChart = async (): Promise<void> => {
  // ?from=&to= (anything /v1/ohlcv accepts) pins a historic range; by default the last 300 windows.
  const win = interval === '1m' ? 60_000 : 300_000;
  const to = params.get('to') ?? String(Date.now() + 60_000);
  const from = params.get('from') ?? String(Number(to) - 300 * win);
  const r = await api<{ candles: Candle[]; batchAsOf: string | null; boundary: number | null }>(
    `/v1/ohlcv/${encodeURIComponent(symbol)}?interval=${interval}&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`,
  );
  candles.setData(r.candles.map(toBar));
  volume.setData(r.candles.map(toVol));
  chart.timeScale().fitContent();
  $('#chart-title').textContent = `${symbol} ${interval}`;
  $('#chart-source').textContent = `${r.candles.length} candles, batch as of ${r.batchAsOf ?? 'none'}`;
};

// ---- prices and movers ----
const prices = new Map<string, { last: string; at: number; first: string }>();

const renderPrices = (): void => {
  const rows = [...prices].map(([s, p]) => ({ s, p, ch: pctChange(p.first, p.last) }));
  rows.sort((a, b) => ((b.ch.bp < 0n ? -b.ch.bp : b.ch.bp) > (a.ch.bp < 0n ? -a.ch.bp : a.ch.bp) ? 1 : -1));
  const body = $('#prices tbody');
  body.replaceChildren(
    ...rows.map(({ s, p, ch }) => {
      const tr = document.createElement('tr');
      tr.dataset.symbol = s;
      tr.append(
        td(s),
        td(fmt(p.last), 'n last', p.last),
        td(ch.text, `n ${ch.bp < 0n ? 'down' : 'up'}`),
        td(new Date(p.at).toISOString().slice(11, 19)),
      );
      return tr;
    }),
  );
};

const seedPrices = async (symbols: string[]): Promise<void> => {
  await Promise.all(
    symbols.map(async (s) => {
      const to = Date.now() + 60_000;
      const r = await api<{ candles: Candle[] }>(
        `/v1/ohlcv/${s}?interval=5m&from=${to - 288 * 300_000}&to=${to}`,
      ).catch(() => ({ candles: [] }));
      const first = r.candles[0];
      const last = r.candles.at(-1);
      if (first && last) prices.set(s, { first: first.open, last: last.close, at: last.start });
    }),
  );
  renderPrices();
};

/** The shown portfolio's assets as symbols (BTC -> BTCUSDT), to revalue it when one of them ticks. */
let held = new Set<string>();
let revalue: ReturnType<typeof setTimeout> | null = null;

const onPrice = (e: PriceEvent): void => {
  // The live portfolio stream pushes on the user's own changes; a price move revalues it here,
  // at most once a second.
  if (held.has(e.symbol) && revalue === null && currentUser) {
    revalue = setTimeout(() => {
      revalue = null;
      void api<Portfolio>(`/v1/portfolio/${encodeURIComponent(currentUser)}`).then(renderPortfolio, () => undefined);
    }, 1000);
  }
  const p = prices.get(e.symbol);
  prices.set(e.symbol, { first: p?.first ?? e.price, last: e.price, at: e.eventTime });
  renderPrices();
  if (e.symbol !== symbol) return;
  for (const c of e.candles) {
    if (c.interval !== interval) continue;
    candles.update(toBar(c));
    volume.update(toVol(c));
  }
};

// ---- portfolio ----
const renderPortfolio = (p: Portfolio): void => {
  held = new Set(p.positions.map((l) => `${l.asset}USDT`));
  $('#pf-user').textContent = `${p.userId} (${p.mode})`;
  const t = p.totals as Record<string, string>;
  const sum = $('#pf-summary');
  sum.replaceChildren();
  const facts: [string, string, string | null][] = [
    ['value', fmt(t.marketValue), t.marketValue ?? null],
    ['total P&L', fmt(t.totalPnl), t.totalPnl ?? null],
    ['unrealized', fmt(t.unrealizedPnl), t.unrealizedPnl ?? null],
    ['realized', fmt(t.realizedPnl), t.realizedPnl ?? null],
    ['tier', p.tier ?? '-', p.tier],
    ['30-day spend', fmt(p.spend30d), p.spend30d],
  ];
  const dl = document.createElement('table');
  for (const [k, text, value] of facts) {
    const tr = document.createElement('tr');
    const cell = td(text, 'n', value);
    cell.dataset.fact = k;
    tr.append(td(k), cell);
    dl.append(tr);
  }
  sum.append(dl);
  $('#positions tbody').replaceChildren(
    ...p.positions.map((l) => {
      const tr = document.createElement('tr');
      tr.dataset.asset = l.asset;
      tr.append(
        td(l.asset),
        td(fmt(l.quantity, 6), 'n', l.quantity),
        td(fmt(l.avgCost), 'n', l.avgCost),
        td(fmt(l.price), 'n', l.price),
        td(fmt(l.marketValue), 'n', l.marketValue),
        td(fmt(l.unrealizedPnl), `n ${l.unrealizedPnl?.startsWith('-') ? 'down' : 'up'}`, l.unrealizedPnl),
        td(fmt(l.realizedPnl), 'n', l.realizedPnl),
      );
      return tr;
    }),
  );
  const f = p.freshness;
  const iso = (t: number | null): string => (t === null ? '-' : new Date(t).toISOString().slice(0, 19));
  $('#pf-fresh').textContent =
    `batch as of ${f.batchAsOf ?? 'none'} · speed days ${f.speedDays.join(', ') || 'none'} · users watermark ${iso(f.usersWatermark)} · ` +
    `price watermark ${iso(f.priceWatermark)} · oldest price ${f.priceAgeMs === null ? '-' : `${Math.round(f.priceAgeMs / 1000)} s`} old` +
    (p.warnings.length ? ` · ${p.warnings.join('; ')}` : '');
};

// ---- pipeline + reconcile ----
const loadPipeline = async (): Promise<void> => {
  const s = await api<{ dates: { date: string; lastRun: { status: string }; steps: Record<string, string> }[] }>(
    '/v1/pipeline/status?limit=5',
  ).catch(() => ({ dates: [] }));
  const rows = await Promise.all(
    [...s.dates]
      .reverse()
      .slice(0, 14)
      .map(async (d) => {
        const rec = await api<{
          summary: { clean: boolean; fieldsMismatched: number; missingInBatch: number; missingInSpeed: number };
        }>(`/v1/reconcile/${d.date}`).catch(() => null);
        const tr = document.createElement('tr');
        tr.dataset.date = d.date;
        const r = rec?.summary;
        tr.append(
          td(d.date),
          td(d.lastRun.status, d.lastRun.status === 'succeeded' ? 'up' : 'down'),
          td(
            Object.entries(d.steps)
              .map(([k, v]) => `${k}:${v}`)
              .join(' '),
          ),
          td(
            r === undefined
              ? 'not reconciled'
              : r.clean
                ? 'clean'
                : `${r.fieldsMismatched} mismatched, ${r.missingInBatch + r.missingInSpeed} missing`,
            r === undefined ? '' : r.clean ? 'up' : 'down',
          ),
        );
        return tr;
      }),
  );
  if (rows.length === 0) {
    const tr = document.createElement('tr');
    const c = td('no pipeline runs recorded yet (`cryptolambda pipeline run`)');
    c.colSpan = 4;
    tr.append(c);
    rows.push(tr);
  }
  $('#pipeline tbody').replaceChildren(...rows);
};

// ---- live streams over fetch (EventSource cannot send the bearer token) ----
const conn = new Map<string, boolean>();
const showConn = (): void => {
  const all = [...conn.values()];
  const el = $('#conn');
  el.textContent = all.length && all.every(Boolean) ? 'live' : 'reconnecting…';
  el.className = `badge ${all.length && all.every(Boolean) ? 'live' : 'down'}`;
};

const subscribe = (path: string, on: (event: string, data: unknown) => void, signal: AbortSignal): void => {
  let lastId = '';
  const loop = async (): Promise<void> => {
    while (!signal.aborted) {
      try {
        const r = await fetch(path, {
          headers: { ...headers(), ...(lastId ? { 'last-event-id': lastId } : {}) },
          signal,
        });
        if (!r.ok || !r.body) throw new Error(String(r.status));
        conn.set(path, true);
        showConn();
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
            const f: Record<string, string> = {};
            for (const line of buf.slice(0, i).split('\n')) {
              const m = /^(\w+): ?(.*)$/.exec(line);
              if (m) f[m[1]!] = m[2]!;
            }
            buf = buf.slice(i + 2);
            if (f.id) lastId = f.id;
            if (f.event && f.data) on(f.event, JSON.parse(f.data));
          }
        }
      } catch {
        if (signal.aborted) return;
      }
      conn.set(path, false);
      showConn();
      // Resume after a second with Last-Event-ID: the server replays what is still retained.
      await new Promise((r) => setTimeout(r, 1000));
    }
  };
  void loop();
};

let portfolioStream: AbortController | null = null;
let currentUser = '';

const showUser = async (user: string): Promise<void> => {
  portfolioStream?.abort();
  currentUser = user;
  held = new Set();
  conn.delete('portfolio');
  for (const k of [...conn.keys()]) if (k.startsWith('/v1/live/portfolio/')) conn.delete(k);
  if (!user) return;
  try {
    renderPortfolio(await api<Portfolio>(`/v1/portfolio/${encodeURIComponent(user)}`));
  } catch (err) {
    $('#pf-summary').innerHTML = '';
    const p = document.createElement('p');
    p.className = 'error';
    p.textContent = (err as Error).message;
    $('#pf-summary').append(p);
    return;
  }
  portfolioStream = new AbortController();
  subscribe(
    `/v1/live/portfolio/${encodeURIComponent(user)}`,
    (ev, d) => ev === 'portfolio' && renderPortfolio(d as Portfolio),
    portfolioStream.signal,
  );
};

const main = async (): Promise<void> => {
  initChart();
  ($('#symbol') as HTMLInputElement).value = symbol;
  ($('#interval') as HTMLSelectElement).value = interval;
  const user = params.get('user') ?? '';
  ($('#user') as HTMLInputElement).value = user;
  $('#controls').addEventListener('submit', (e) => {
    e.preventDefault();
    symbol = ($('#symbol') as HTMLInputElement).value.toUpperCase();
    interval = ($('#interval') as HTMLSelectElement).value === '5m' ? '5m' : '1m';
    void loadChart();
    void showUser(($('#user') as HTMLInputElement).value);
  });
  const symbols = (params.get('symbols') ?? `${symbol},ETHUSDT,SOLUSDT`).split(',').map((s) => s.toUpperCase());
  await Promise.all([loadChart(), seedPrices([...new Set(symbols)]), showUser(user), loadPipeline()]);
  subscribe('/v1/live/prices', (ev, d) => ev === 'price' && onPrice(d as PriceEvent), new AbortController().signal);
  setInterval(() => void loadPipeline(), 30_000);
  document.body.dataset.ready = '1';
};

// Read-only hooks for tests and the curious: what the chart holds, as drawn.
(window as unknown as { dashboard: unknown }).dashboard = {
  candles: () => candles.data(),
  volume: () => volume.data(),
};

void main();
