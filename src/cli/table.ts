import type { ChalkInstance } from 'chalk';
import { exact, fixed, integer, percent, priceText, quantity, sign, usd } from './numbers.js';

/**
 * One table model per query result, rendered three ways: a human table that fits the terminal
 * (80 columns by default, numbers right-aligned at display precision), `--wide` (every column,
 * every digit) and `--output csv` (every column, the exact strings `--json` has).
 *
 * Columns carry a priority: when the table is wider than the width, the least important columns
 * are hidden first (and a footnote says which), then the widest text column is cut with "…".
 * Numbers are never cut.
 */
export type Kind =
  /** free text, left-aligned */
  | 'text'
  /** USD amount: 2 decimals */
  | 'usd'
  /** USD amount coloured by sign (P&L) */
  | 'pnl'
  | 'qty'
  | 'price'
  /** a count (grouped) */
  | 'int'
  /** a number that is a name: port, pid, partition (right-aligned, not grouped) */
  | 'id'
  /** a ratio such as a correlation, 4 decimals */
  | 'ratio'
  /** a fraction shown as a percent, 2 decimals ("12.50%"); --wide/--json keep the fraction */
  | 'pct'
  /** exact decimal text, trailing zeros dropped (reconcile values) */
  | 'exact';

export type Cell = string | number | null;

export interface Column<R> {
  readonly header: string;
  readonly kind: Kind;
  readonly value: (row: R) => Cell;
  /** 0 = always shown; higher numbers are hidden first when the table does not fit. */
  readonly priority?: number;
  /** CSV header (default: the header, spaces → underscores). */
  readonly csv?: string;
}

export interface TableModel<R = never> {
  readonly columns: readonly Column<R>[];
  readonly rows: readonly R[];
}

export interface ViewOptions {
  /** Maximum line width; Infinity with --wide. */
  readonly width: number;
  readonly wide: boolean;
  readonly color: boolean;
  readonly c: ChalkInstance;
}

export const DEFAULT_WIDTH = 80;
const GAP = '  ';

const RIGHT: ReadonlySet<Kind> = new Set(['usd', 'pnl', 'qty', 'price', 'int', 'id', 'ratio', 'pct', 'exact']);

/** Display text of one cell. */
export const cellText = (kind: Kind, v: Cell, wide: boolean): string => {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'number') return kind === 'int' ? (wide ? String(v) : integer(v)) : String(v);
  if (wide && kind !== 'text') return exact(v);
  switch (kind) {
    case 'usd':
    case 'pnl':
      return usd(v);
    case 'qty':
      return quantity(v);
    case 'price':
      return priceText(v);
    case 'ratio':
      return fixed(v, 4);
    case 'pct':
      return percent(v);
    case 'exact':
      return exact(v);
    case 'int':
      return /^-?\d+$/.test(v) ? integer(Number(v)) : v;
    default:
      return v;
  }
};

/** Visible width: strip ANSI escapes, count code points. */
export const visibleWidth = (s: string): number =>
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escapes are control characters
  [...s.replace(/\x1b\[[0-9;]*m/g, '')].length;

const cut = (s: string, w: number): string => {
  const cps = [...s];
  return cps.length <= w ? s : `${cps.slice(0, Math.max(0, w - 1)).join('')}…`;
};

const pad = (s: string, w: number, right: boolean): string => {
  const fill = ' '.repeat(Math.max(0, w - visibleWidth(s)));
  return right ? fill + s : s + fill;
};

/** A text column may be cut down to this many characters, not less. */
const MIN_TEXT = 8;

export interface RenderedTable {
  readonly text: string;
  /** Headers of the columns hidden to fit the width. */
  readonly hidden: readonly string[];
}

export const renderModel = <R>(model: TableModel<R>, o: ViewOptions): RenderedTable => {
  const all = model.columns.map((col, i) => ({
    col,
    i,
    cells: model.rows.map((r) => {
      const v = col.value(r);
      return { text: cellText(col.kind, v, o.wide), tone: col.kind === 'pnl' && typeof v === 'string' ? sign(v) : 0 };
    }),
  }));
  const widthOf = (c: (typeof all)[number]): number =>
    Math.max(visibleWidth(c.col.header), ...c.cells.map((x) => visibleWidth(x.text)));
  let shown = [...all];
  const total = (cols: typeof all, widths: Map<number, number>): number =>
    cols.reduce((a, c) => a + (widths.get(c.i) ?? widthOf(c)), 0) + GAP.length * Math.max(0, cols.length - 1);
  const widths = new Map(all.map((c) => [c.i, widthOf(c)]));
  const hidden: string[] = [];
  if (!o.wide) {
    // Hide the least important (highest priority number, rightmost first) until it fits.
    while (total(shown, widths) > o.width) {
      const candidates = shown.filter((c) => (c.col.priority ?? 0) > 0);
      if (candidates.length === 0) break;
      const drop = candidates.reduce((a, b) => ((b.col.priority ?? 0) >= (a.col.priority ?? 0) ? b : a));
      shown = shown.filter((c) => c !== drop);
      hidden.push(drop.col.header);
    }
    // Dropping a wide column may have freed room for a narrower, less important one: refill.
    for (const h of [...hidden].reverse()) {
      const col = all.find((c) => c.col.header === h)!;
      const next = all.filter((c) => c === col || shown.includes(c));
      if (total(next, widths) <= o.width) {
        shown = next;
        hidden.splice(hidden.indexOf(h), 1);
      }
    }
    // Still too wide: cut the widest text column, repeatedly, down to MIN_TEXT.
    for (;;) {
      const over = total(shown, widths) - o.width;
      if (over <= 0) break;
      const texts = shown.filter((c) => c.col.kind === 'text' && (widths.get(c.i) ?? 0) > MIN_TEXT);
      if (texts.length === 0) break;
      const widest = texts.reduce((a, b) => ((widths.get(b.i) ?? 0) > (widths.get(a.i) ?? 0) ? b : a));
      widths.set(widest.i, Math.max(MIN_TEXT, (widths.get(widest.i) ?? 0) - over));
    }
  }
  const line = (cells: string[]): string => cells.join(GAP).replace(/\s+$/, '');
  const head = line(
    shown.map((c) => {
      const w = widths.get(c.i)!;
      const h = pad(cut(c.col.header, w), w, RIGHT.has(c.col.kind));
      return o.color ? o.c.bold(h) : h;
    }),
  );
  const rule = line(shown.map((c) => '─'.repeat(widths.get(c.i)!)));
  const body = model.rows.map((_, r) =>
    line(
      shown.map((c) => {
        const w = widths.get(c.i)!;
        const cell = c.cells[r]!;
        const t = cut(cell.text, w);
        // A value that rounds to zero on screen is not coloured as a gain or a loss.
        const toned = !o.color || cell.tone === 0 || !/[1-9]/.test(t) ? t : cell.tone > 0 ? o.c.green(t) : o.c.red(t);
        return pad(toned, w, RIGHT.has(c.col.kind));
      }),
    ),
  );
  return { text: [head, o.color ? o.c.dim(rule) : rule, ...body].join('\n'), hidden };
};

/** Footnote for hidden columns, or nothing. */
export const hiddenNote = (hidden: readonly string[], width = DEFAULT_WIDTH): string[] =>
  hidden.length === 0
    ? []
    : wrapParts(`(${hidden.join(', ')} hidden to fit ${width} columns; --wide shows all)`.split(' '), width, ' ');

/** Table plus its footnote. */
export const renderTableModel = <R>(model: TableModel<R>, o: ViewOptions): string => {
  const r = renderModel(model, o);
  return [r.text, ...hiddenNote(r.hidden, o.width)].join('\n');
};

const csvField = (s: string): string => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/** RFC 4180 CSV of every column with the exact values (no rounding, no grouping). */
export const toCsv = <R>(model: TableModel<R>): string => {
  const head = model.columns.map((c) => csvField(c.csv ?? c.header.replace(/[^A-Za-z0-9]+/g, '_').replace(/_$/, '')));
  const rows = model.rows.map((r) =>
    model.columns.map((c) => {
      const v = c.value(r);
      return csvField(v === null || v === undefined ? '' : String(v));
    }),
  );
  return [head, ...rows].map((r) => r.join(',')).join('\n');
};

/**
 * Wrap "label value" parts into lines no wider than `width`, joining parts with `sep`; a
 * part longer than the width gets a line of its own.
 */
export const wrapParts = (parts: readonly string[], width: number, sep = GAP): string[] => {
  const lines: string[] = [];
  let cur = '';
  for (const p of parts) {
    if (cur === '') cur = p;
    else if (visibleWidth(cur) + sep.length + visibleWidth(p) <= width) cur += sep + p;
    else {
      lines.push(cur);
      cur = p;
    }
  }
  if (cur !== '') lines.push(cur);
  return lines;
};
