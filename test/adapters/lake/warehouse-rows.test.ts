import type { DuckDBDecimalValue } from '@duckdb/node-api';
import { afterEach, describe, expect, it } from 'vitest';
import { Duck } from '../../../src/adapters/duckdb/db.js';
import {
  cellReaders,
  decimalReader,
  int64Reader,
  Staging,
  streamChunks,
  unitsReader,
  varcharReader,
} from '../../../src/adapters/lake/warehouse-rows.js';
import { CryptolambdaError } from '../../../src/core/errors.js';
import { Decimal, PRICE_SCALE, QTY_SCALE, USD_SCALE } from '../../../src/core/money/decimal.js';
import { BATCH_REJECTS, FACT_LOT_DAILY, FACT_PORTFOLIO_DAILY } from '../../../src/core/warehouse/schema.js';

const ducks: Duck[] = [];
afterEach(() => {
  for (const d of ducks.splice(0)) d.close();
});
const open = async (): Promise<Duck> => {
  const d = await Duck.open(':memory:', { threads: 1 });
  ducks.push(d);
  return d;
};

describe('Staging', () => {
  it('stores every VARCHAR as given: inline-sized ASCII, 12/13 bytes, non-ASCII, empty and NULL, over several chunks', async () => {
    const duck = await open();
    const st = await Staging.create(duck, BATCH_REJECTS);
    // Strings around the 12-byte inline limit of DuckDB's string_t, multi-byte ones that fit 12
    // UTF-16 units but not 12 bytes, and NULLs, mixed in one chunk and over chunk boundaries.
    const values = ['', 'a', 'u0000091', '123456789012', '1234567890123', 'é', 'ü-1234567890', '€€€€', 'x'.repeat(300)];
    const n = 5000;
    const want: { id: string; user: string | null; reason: string }[] = [];
    for (let i = 0; i < n; i++) {
      const id = `e${i}`;
      const user = i % 7 === 3 ? null : values[i % values.length]!;
      const reason = values[(i * 5 + 1) % values.length]!;
      want.push({ id, user, reason });
      st.appendRow({
        date: '2026-01-11',
        event_id: id,
        user_id: user,
        source_table: 'transactions',
        code: 'INVALID',
        reason,
        event_json: `{"i":${i}}`,
      });
    }
    st.close();
    const rows = await duck.rows<{ event_id: string; user_id: string | null; reason: string; d: string }>(
      'SELECT event_id, user_id, reason, CAST(date AS VARCHAR) AS d FROM stage_batch_rejects ORDER BY CAST(substr(event_id, 2) AS INTEGER)',
    );
    expect(rows.map((r) => ({ id: r.event_id, user: r.user_id, reason: r.reason }))).toEqual(want);
    expect(new Set(rows.map((r) => r.d))).toEqual(new Set(['2026-01-11']));
  });

  it('takes a DECIMAL as a Decimal or as bigint units at the column scale, and refuses what does not fit', async () => {
    const duck = await open();
    const st = await Staging.create(duck, FACT_LOT_DAILY);
    const row = (q: Decimal | bigint, c: Decimal | bigint) => ({
      date: '2026-01-11',
      user_id: 'u1',
      asset: 'BTC',
      cost_method: 'fifo',
      lot_id: 'b1',
      seq: 0,
      acquired_at_ms: 1,
      original_quantity: q,
      original_cost: c,
      quantity: q,
      cost: c,
    });
    st.appendRow(row(Decimal.parse('1.5', QTY_SCALE), Decimal.parse('-2.25', USD_SCALE)));
    st.appendRow(row(15n * 10n ** BigInt(QTY_SCALE - 1), -225n * 10n ** BigInt(USD_SCALE - 2)));
    expect(() => st.appendRow(row(10n ** 38n, 0n))).toThrow(CryptolambdaError);
    expect(() => st.appendRow(row(0n, -(10n ** 38n)))).toThrow(CryptolambdaError);
    st.close();
    const rows = await duck.rows<{ q: string; c: string }>(
      'SELECT CAST(quantity AS VARCHAR) AS q, CAST(cost AS VARCHAR) AS c FROM stage_fact_lot_daily',
    );
    expect(rows).toEqual([
      { q: '1.500000000000000000', c: '-2.250000000000' },
      { q: '1.500000000000000000', c: '-2.250000000000' },
    ]);
  });

  it('writes int128 cells of any sign and size, and NULLs of nullable DECIMAL columns, over several chunks', async () => {
    const duck = await open();
    const st = await Staging.create(duck, FACT_PORTFOLIO_DAILY);
    const big = 10n ** 38n - 1n;
    const samples = [
      0n,
      1n,
      -1n,
      2n ** 63n - 1n,
      2n ** 63n,
      -(2n ** 63n),
      -(2n ** 63n) - 1n,
      2n ** 64n,
      big,
      -big,
      12345n,
    ];
    const n = 4500;
    const want: { q: string; close: string | null }[] = [];
    for (let i = 0; i < n; i++) {
      const u = samples[i % samples.length]!;
      const close = i % 3 === 0 ? null : Decimal.fromUnits(-u / 7n, PRICE_SCALE);
      want.push({ q: Decimal.fromUnits(u, QTY_SCALE).toString(), close: close?.toString() ?? null });
      const z = Decimal.zero(USD_SCALE);
      st.appendRow({
        date: '2026-01-11',
        user_id: `u${i}`,
        asset: 'BTC',
        quantity_held: u,
        staked: Decimal.zero(QTY_SCALE),
        cost_basis: z,
        avg_cost_basis: z,
        realized_pnl: z,
        realized_pnl_day: z,
        fees_paid: z,
        reward_income: z,
        event_count: i,
        events_day: 1,
        last_event_time_ms: i,
        last_event_id: `e${i}`,
        close_price: close,
        market_value: close === null ? null : z,
        unrealized_pnl: undefined,
      });
    }
    st.close();
    const rows = await duck.rows<{ q: string; close: string | null; u: string | null }>(
      'SELECT CAST(quantity_held AS VARCHAR) AS q, CAST(close_price AS VARCHAR) AS close, CAST(unrealized_pnl AS VARCHAR) AS u FROM stage_fact_portfolio_daily ORDER BY event_count',
    );
    expect(rows.map((r) => ({ q: r.q, close: r.close }))).toEqual(want);
    expect(rows.every((r) => r.u === null)).toBe(true);
  });

  it('writes int64 cells of safe numbers and bigints of any sign, and NULLs, over several chunks', async () => {
    const duck = await open();
    const def = {
      name: 'int64_cells',
      perDate: false,
      key: ['i'],
      doc: 'test',
      columns: [
        { name: 'i', type: 'BIGINT', doc: '', nullable: false },
        { name: 'v', type: 'BIGINT', doc: '', nullable: true },
      ],
    };
    const st = await Staging.create(duck, def);
    const samples: (number | bigint | null)[] = [
      0,
      1,
      -1,
      2 ** 31 - 1,
      2 ** 31,
      -(2 ** 31),
      2 ** 32 - 1,
      2 ** 32,
      -(2 ** 32),
      -(2 ** 32) - 1,
      Number.MAX_SAFE_INTEGER,
      Number.MIN_SAFE_INTEGER,
      1_767_225_600_123,
      2n ** 63n - 1n,
      -(2n ** 63n),
      2n ** 53n + 1n,
      null,
      -5n,
    ];
    const n = 4500;
    const want: string[] = [];
    for (let i = 0; i < n; i++) {
      const v = samples[i % samples.length]!;
      want.push(v === null ? 'null' : String(v));
      st.appendRow({ i, v });
    }
    st.close();
    const rows = await duck.rows<{ v: string | null }>(
      'SELECT CAST(v AS VARCHAR) AS v FROM stage_int64_cells ORDER BY i',
    );
    expect(rows.map((r) => r.v ?? 'null')).toEqual(want);
    // Beyond 64 bits: refused, never wrapped.
    const bad = await Staging.create(duck, def, 'stage_int64_bad');
    expect(() => bad.appendRow({ i: 0, v: 2n ** 63n })).toThrow(/does not fit a BIGINT/);
  });

  it('varcharReader reads every cell as the node API does: inline ASCII, repeats, long, non-ASCII, empty, NULL', async () => {
    const duck = await open();
    // Runs of equal values (the reader hands back the previous string), neighbours that differ only
    // past their common prefix or in length, and the cells the API must decode.
    await duck.run(`CREATE TABLE t AS SELECT i, CASE i % 11
        WHEN 0 THEN NULL WHEN 1 THEN '' WHEN 2 THEN 'u' || (i // 40)::VARCHAR WHEN 3 THEN 'u' || (i // 40)::VARCHAR
        WHEN 4 THEN '123456789012' WHEN 5 THEN '1234567890123' WHEN 6 THEN 'é' || (i % 3)::VARCHAR
        WHEN 7 THEN repeat('x', 40) || i::VARCHAR WHEN 8 THEN 'BTC' WHEN 9 THEN 'BTC' ELSE 'BT' END AS s,
        CASE WHEN i % 5 = 0 THEN NULL ELSE 'same' END AS r
      FROM range(6000) r(i)`);
    let n = 0;
    for await (const chunk of streamChunks(duck, 'SELECT s, r, i FROM t ORDER BY i')) {
      const s = varcharReader(chunk, 0);
      const cells = cellReaders(chunk);
      const api = [chunk.getColumnVector(0), chunk.getColumnVector(1), chunk.getColumnVector(2)];
      for (let row = 0; row < chunk.rowCount; row++) {
        expect(s(row)).toBe(api[0]!.getItem(row));
        expect(cells[1]!(row)).toBe(api[1]!.getItem(row));
        // BIGINT as a number (cellReaders: int64Reader) equal to the API's bigint.
        expect(cells[2]!(row)).toBe(Number(api[2]!.getItem(row)));
        n++;
      }
    }
    expect(n).toBe(6000);
  });

  it('decimalReader reads every DECIMAL(38, s) cell as the node API does: 64-bit edges, beyond them, signs, NULL', async () => {
    const duck = await open();
    // Units around the int64 range (where the reader switches to the API), 38-digit values, zero,
    // both signs, at the raw zone's scales, over several chunks.
    const units = [
      0n,
      1n,
      -1n,
      2n ** 31n,
      -(2n ** 31n),
      2n ** 32n - 1n,
      2n ** 32n,
      2n ** 63n - 1n,
      -(2n ** 63n),
      2n ** 63n,
      -(2n ** 63n) - 1n,
      2n ** 64n,
      10n ** 38n - 1n,
      -(10n ** 38n) + 1n,
      123456789012345678n,
    ];
    await duck.run('CREATE TABLE t (i INTEGER, q DECIMAL(38, 18), p DECIMAL(38, 12))');
    const values = Array.from({ length: 5000 }, (_, i) => {
      const u = units[i % units.length]! * (i % 2 === 0 ? 1n : -1n);
      const q = i % 9 === 4 ? 'NULL' : `'${Decimal.fromUnits(u, QTY_SCALE).toString()}'::DECIMAL(38, 18)`;
      return `(${i}, ${q}, '${Decimal.fromUnits(u, PRICE_SCALE).toString()}'::DECIMAL(38, 12))`;
    });
    await duck.run(`INSERT INTO t VALUES ${values.join(', ')}`);
    let n = 0;
    let wide = 0;
    for await (const chunk of streamChunks(duck, 'SELECT q, p FROM t ORDER BY i')) {
      const q = decimalReader(chunk, 0);
      const p = decimalReader(chunk, 1);
      const api = [chunk.getColumnVector(0), chunk.getColumnVector(1)];
      for (let row = 0; row < chunk.rowCount; row++) {
        for (const [read, v, scale] of [
          [q, api[0]!, QTY_SCALE],
          [p, api[1]!, PRICE_SCALE],
        ] as const) {
          const want = v.getItem(row) as DuckDBDecimalValue | null;
          const got = read(row);
          if (want === null) expect(got).toBeNull();
          else {
            expect(got).toBeInstanceOf(Decimal);
            expect(got!.scale).toBe(scale);
            expect(got!.units).toBe(want.value);
            if (want.value >= 2n ** 63n || want.value < -(2n ** 63n)) wide++;
          }
          // unitsReader: the same units at the column's scale; at a larger scale, rescaled exactly.
          const col = v === api[0] ? 0 : 1;
          expect(unitsReader(chunk, col, scale)(row)).toBe(want === null ? null : want.value);
          expect(unitsReader(chunk, col, scale + 2)(row)).toBe(want === null ? null : want.value * 100n);
        }
        n++;
      }
    }
    expect(n).toBe(5000);
    expect(wide).toBeGreaterThan(0);
    expect(() =>
      decimalReader({ getColumnVector: () => ({ type: { toString: () => 'INTEGER' } }) } as never, 0),
    ).toThrow(CryptolambdaError);
  });

  it('int64Reader gives a number for a safe BIGINT and the exact bigint beyond 2^53, and NULL', async () => {
    const duck = await open();
    const edges = [
      0n,
      1n,
      -1n,
      2n ** 32n - 1n,
      2n ** 32n,
      -(2n ** 32n),
      1767225600000n,
      2n ** 53n - 1n,
      -(2n ** 53n - 1n),
      2n ** 53n,
      -(2n ** 53n),
      2n ** 53n + 1n,
      2n ** 63n - 1n,
      -(2n ** 63n),
    ];
    const rows = Array.from({ length: 4500 }, (_, i) => `(${i}, ${i % 7 === 2 ? 'NULL' : edges[i % edges.length]!})`);
    await duck.run(`CREATE TABLE t AS SELECT * FROM (VALUES ${rows.join(', ')}) v(i, x)`);
    let n = 0;
    for await (const chunk of streamChunks(duck, 'SELECT x::BIGINT FROM t ORDER BY i')) {
      const x = int64Reader(chunk, 0);
      const api = chunk.getColumnVector(0);
      for (let row = 0; row < chunk.rowCount; row++) {
        const want = api.getItem(row) as bigint | null;
        const got = x(row);
        if (want === null) expect(got).toBeNull();
        else if (want <= BigInt(Number.MAX_SAFE_INTEGER) && want >= BigInt(Number.MIN_SAFE_INTEGER)) {
          expect(typeof got).toBe('number');
          expect(got).toBe(Number(want));
        } else expect(BigInt(got as number | bigint)).toBe(want);
        n++;
      }
    }
    expect(n).toBe(4500);
  });
});
