import { describe, expect, it } from 'vitest';
import { makeChalk } from '../../src/cli/render.js';
import { type Column, renderTableModel, type TableModel, toCsv, visibleWidth, wrapParts } from '../../src/cli/table.js';

type Row = { name: string; amount: string; note: string; extra: string };
const cols: Column<Row>[] = [
  { header: 'name', kind: 'text', value: (r) => r.name },
  { header: 'amount', kind: 'usd', value: (r) => r.amount },
  { header: 'note', kind: 'text', value: (r) => r.note },
  { header: 'extra', kind: 'text', priority: 1, value: (r) => r.extra },
];
const model = (rows: Row[]): TableModel<Row> => ({ columns: cols, rows });
const plain = (width: number, wide = false) => ({ width, wide, color: false, c: makeChalk(false) });

describe('table model', () => {
  it('right-aligns numbers, left-aligns text, no trailing spaces', () => {
    const out = renderTableModel(model([{ name: 'a', amount: '1234.5', note: 'x', extra: 'y' }]), plain(80));
    expect(out.split('\n')).toEqual([
      'name    amount  note  extra',
      '────  ────────  ────  ─────',
      'a     1,234.50  x     y',
    ]);
  });

  it('hides low-priority columns first, then cuts the widest text with …, never a number', () => {
    const rows = [{ name: 'n'.repeat(30), amount: '1', note: 'long '.repeat(10), extra: 'e'.repeat(20) }];
    const out = renderTableModel(model(rows), plain(60)).split('\n');
    for (const l of out) expect(visibleWidth(l)).toBeLessThanOrEqual(60);
    expect(out[0]).not.toContain('extra');
    expect(out[2]).toContain('1.00');
    expect(out[2]).toContain('…');
    expect(out.at(-1)).toBe('(extra hidden to fit 60 columns; --wide shows all)');
  });

  it('--wide shows every column with exact digits', () => {
    const out = renderTableModel(
      model([{ name: 'a', amount: '1234.567000', note: 'x', extra: 'y' }]),
      plain(Infinity, true),
    );
    expect(out.split('\n')[2]).toBe('a     1234.567  x     y');
  });

  it('CSV: every column, exact values, RFC 4180 quoting', () => {
    expect(toCsv(model([{ name: 'a,b', amount: '1234.567000', note: 'say "hi"', extra: '' }]))).toBe(
      'name,amount,note,extra\n"a,b",1234.567000,"say ""hi""",',
    );
  });

  it('colour: losses red, gains green, only the digits', () => {
    const pnl: Column<{ v: string }>[] = [{ header: 'pnl', kind: 'pnl', value: (r) => r.v }];
    const out = renderTableModel(
      { columns: pnl, rows: [{ v: '-1' }, { v: '2' }, { v: '-0.001' }] },
      { width: 80, wide: false, color: true, c: makeChalk(true) },
    );
    expect(out).toContain('\u001b[31m-1.00\u001b[39m');
    expect(out).toContain('\u001b[32m2.00\u001b[39m');
    expect(out.split('\n')[4]).toBe(' 0.00');
  });

  it('wrapParts keeps lines within the width', () => {
    expect(wrapParts(['aaaa', 'bbbb', 'cccc'], 10)).toEqual(['aaaa  bbbb', 'cccc']);
    expect(wrapParts(['a', 'b'], 10, ' ')).toEqual(['a b']);
  });
});
