import { Box, Text } from 'ink';
import type { Decimal } from '../../core/money/decimal.js';
import {
  fmtPct,
  fmtPrice,
  fmtQty,
  fmtSignedUsd,
  fmtUsd,
  hhmm,
  hhmmss,
  isoSecond,
  NA,
  trendOf,
} from '../../core/ticker/format.js';
import type { CandleView, SymbolView, TickerView, UserView } from '../../core/ticker/model.js';

/**
 * Display-only pieces of the ticker screen: props in, text out, no effects (the container in
 * ticker-app.tsx owns polling and keys). Columns are padded strings so a frame is stable text that
 * tests can compare whole. `color` is decided once by the caller (NO_COLOR, TTY): when false no
 * colour prop is passed at all, so the output carries no escape codes.
 */
export interface ColorProps {
  readonly color: boolean;
}

/** Ink colour name for a change: green gain, red loss, none for a rounded zero or without colour. */
export const trendColor = (d: Decimal | null, color: boolean): 'green' | 'red' | undefined => {
  if (!color) return undefined;
  const t = trendOf(d);
  return t === 'up' ? 'green' : t === 'down' ? 'red' : undefined;
};

/** A signed percent, right-aligned in `width`, green for a gain and red for a loss. */
export const Pct = ({ value, width, color }: { value: Decimal | null; width: number } & ColorProps) => (
  <Text color={trendColor(value, color)}>{fmtPct(value).padStart(width)}</Text>
);

export const Header = ({ view, error, color }: { view: TickerView | null; error: string | null } & ColorProps) => {
  const when = view ? isoSecond(view.now) : 'loading…';
  const wm =
    view?.watermark == null
      ? ''
      : `  watermark ${hhmmss(view.watermark)} (${Math.max(0, Math.floor((view.now - view.watermark) / 1000))}s ago)`;
  return (
    <Box flexDirection="column">
      <Text>
        <Text bold>cryptolambda ticker</Text>
        {`  ${when}${wm}`}
        {view?.stale ? <Text color={color ? 'yellow' : undefined}>{`  STALE: ${view.staleReason}`}</Text> : null}
      </Text>
      {error ? <Text color={color ? 'red' : undefined}>{`error: ${error} (retrying)`}</Text> : null}
    </Box>
  );
};

const COLS = { symbol: 10, price: 14, pct: 8 } as const;

export const SymbolRow = ({ s, selected, color }: { s: SymbolView; selected: boolean } & ColorProps) => (
  <Text inverse={selected && color}>
    {`${selected ? '▶' : ' '} ${s.symbol.padEnd(COLS.symbol)} ${fmtPrice(s.price).padStart(COLS.price)}`}
    <Pct value={s.change1m} width={COLS.pct} color={color} />
    <Pct value={s.change5m} width={COLS.pct} color={color} />
    <Pct value={s.change24h} width={COLS.pct} color={color} />
    {`  ${s.sparkline}`}
  </Text>
);

export const SymbolTable = ({
  symbols,
  selected,
  color,
}: { symbols: readonly SymbolView[]; selected: number } & ColorProps) => (
  <Box flexDirection="column">
    <Text bold>
      {`  ${'SYMBOL'.padEnd(COLS.symbol)} ${'PRICE'.padStart(COLS.price)}${'1m'.padStart(COLS.pct)}${'5m'.padStart(COLS.pct)}${'24h'.padStart(COLS.pct)}  LAST 20m`}
    </Text>
    {symbols.length === 0 ? <Text>{'  no symbols yet'}</Text> : null}
    {symbols.map((s, i) => (
      <SymbolRow key={s.symbol} s={s} selected={i === selected} color={color} />
    ))}
  </Box>
);

export const Movers = ({ movers, color }: { movers: TickerView['movers'] } & ColorProps) => (
  <Text>
    {`Top movers (${movers.basis}):`}
    {movers.top.length === 0 ? ` ${NA}` : null}
    {movers.top.map((m, i) => (
      <Text key={m.symbol}>
        {`${i === 0 ? ' ' : '  '}${m.symbol} `}
        <Text color={trendColor(m.change, color)}>{fmtPct(m.change)}</Text>
      </Text>
    ))}
  </Text>
);

export const UserPanel = ({ user, color }: { user: UserView } & ColorProps) => (
  <Text>
    {`${user.id}  tier ${user.tier ?? NA}  value ${fmtUsd(user.value)}  P&L `}
    <Text color={trendColor(user.unrealizedPnl, color)}>
      {`${fmtSignedUsd(user.unrealizedPnl)} (${fmtPct(user.unrealizedPct)})`}
    </Text>
    {user.unpriced.length > 0 ? `  unpriced: ${user.unpriced.join(', ')}` : ''}
  </Text>
);

/** Candle columns: 2 + 5 + 4x10 + 10 + 7 + 8 + "  open" = 78, so a row fits 80 columns. */
const CW = { time: 5, price: 10, volume: 10, trades: 7, pct: 8 } as const;

const CandleRow = ({ c, color }: { c: CandleView } & ColorProps) => (
  <Text>
    {`  ${hhmm(c.start).padEnd(CW.time)}${[c.open, c.high, c.low, c.close].map((d) => fmtPrice(d).padStart(CW.price)).join('')}${fmtQty(c.volume).padStart(CW.volume)}${String(c.trades).padStart(CW.trades)}`}
    <Pct value={c.change} width={CW.pct} color={color} />
    {c.final ? '' : '  open'}
  </Text>
);

export const CandleTable = ({
  s,
  color,
  max = Number.POSITIVE_INFINITY,
}: { s: SymbolView; max?: number } & ColorProps) => {
  // The newest candles first in the view model: keep as many as the terminal has rows for.
  const recent = s.recent.slice(0, Math.max(1, max));
  return (
    <Box flexDirection="column">
      <Text bold>{`${s.symbol} last ${recent.length} 1m candles (UTC)`}</Text>
      <Text>
        {`  ${'TIME'.padEnd(CW.time)}${['OPEN', 'HIGH', 'LOW', 'CLOSE'].map((h) => h.padStart(CW.price)).join('')}${'VOLUME'.padStart(CW.volume)}${'TRADES'.padStart(CW.trades)}${'CHG'.padStart(CW.pct)}`}
      </Text>
      {recent.map((c) => (
        <CandleRow key={c.start} c={c} color={color} />
      ))}
    </Box>
  );
};

/**
 * Lines the screen uses besides the candle rows: header, margins, the symbol table, movers, the
 * user line, the candle title and header, the key help, and the line Ink leaves for the cursor.
 */
export const fixedLines = (view: TickerView, error: string | null): number =>
  11 + Math.max(1, view.symbols.length) + (view.user ? 1 : 0) + (error ? 1 : 0);

/** The whole screen for one view model and one selection. */
export const TickerScreen = ({
  view,
  selected,
  error,
  color,
  rows = Number.POSITIVE_INFINITY,
}: { view: TickerView | null; selected: number; error: string | null; rows?: number } & ColorProps) => {
  const current = view?.symbols[selected];
  return (
    <Box flexDirection="column">
      <Header view={view} error={error} color={color} />
      {view ? (
        <Box flexDirection="column" marginTop={1}>
          <SymbolTable symbols={view.symbols} selected={selected} color={color} />
          <Box marginTop={1}>
            <Movers movers={view.movers} color={color} />
          </Box>
          {view.user ? <UserPanel user={view.user} color={color} /> : null}
          {current ? (
            <Box marginTop={1}>
              <CandleTable s={current} color={color} max={view ? rows - fixedLines(view, error) : rows} />
            </Box>
          ) : null}
        </Box>
      ) : null}
      <Box marginTop={1}>
        <Text dimColor={color}>↑/↓ select · q quit</Text>
      </Box>
    </Box>
  );
};
