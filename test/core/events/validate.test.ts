import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  assetOf,
  MAX_EVENT_TIME,
  MAX_EVENT_USD,
  MIN_EVENT_TIME,
  symbolOf,
  type Validated,
  validatePrice,
  validateReward,
  validateTransaction,
} from '../../../src/core/events/validate.js';
import { Decimal, PRICE_SCALE, QTY_SCALE, USD_SCALE } from '../../../src/core/money/decimal.js';
import { rawPrice, rawReward, rawTx, T0 } from '../build.js';

const reasonOf = <T>(v: Validated<T>): string => {
  if (v.ok) throw new Error('expected a rejection');
  return v.reason;
};

describe('validateTransaction', () => {
  it('turns a raw object into a typed event at the storage scales', () => {
    const v = validateTransaction(rawTx({ quantity: '1.5', price: '30000.5', fee: '2.25' }));
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect(v.event).toMatchObject({ kind: 'transaction', eventId: 'tx-1', userId: 'alice', type: 'buy', asset: 'BTC' });
    expect(v.event.quantity.toString()).toBe('1.500000000000000000');
    expect(v.event.price.toString()).toBe('30000.500000000000');
    expect(v.event.fee.toString()).toBe('2.250000000000'); // USD fee at USD_SCALE
    expect(v.event.eventTime).toBe(T0);
  });

  it('accepts a missing kind, Decimal instances, bigint times and base-asset fees at QTY_SCALE', () => {
    const { kind: _omit, ...noKind } = rawTx();
    expect(validateTransaction(noKind).ok).toBe(true);
    const v = validateTransaction(
      rawTx({
        quantity: Decimal.parse('2', QTY_SCALE),
        price: Decimal.parse('3', PRICE_SCALE),
        fee: '0.000000000000000001',
        feeAsset: 'BTC',
        eventTime: BigInt(T0),
      }),
    );
    expect(v.ok && v.event.fee.toString()).toBe('0.000000000000000001');
    expect(v.ok && v.event.eventTime).toBe(T0);
  });

  it('rejects non-objects', () => {
    for (const raw of [null, undefined, 'x', 42, [rawTx()]]) {
      expect(reasonOf(validateTransaction(raw))).toBe('event is not an object');
    }
  });

  const cases: [string, Record<string, unknown>, string][] = [
    ['wrong kind', { kind: 'price' }, 'kind: expected transaction, got "price"'],
    [
      'unknown type',
      { type: 'airdrop' },
      'type: expected one of buy, sell, deposit, withdrawal, stake, unstake, card_spend, got "airdrop"',
    ],
    [
      'missing type',
      { type: undefined },
      'type: expected one of buy, sell, deposit, withdrawal, stake, unstake, card_spend, got undefined',
    ],
    ['asset not a string', { asset: 7 }, 'asset: expected a string'],
    ['lower-case asset', { asset: 'btc' }, 'asset: invalid value "btc"'],
    ['asset too long', { asset: 'ABCDEFGHIJKLM' }, 'asset: invalid value "ABCDEFGHIJKLM"'],
    [
      'USD outside card spend',
      { asset: 'USD', feeAsset: 'USD', price: '1' },
      'asset: USD is only valid for card_spend, not buy',
    ],
    ['fee asset neither USD nor asset', { feeAsset: 'ETH' }, "feeAsset: must be USD or the event's asset BTC"],
    ['fee asset missing', { feeAsset: undefined }, 'feeAsset: expected a string'],
    ['quantity as a number', { quantity: 1 }, 'quantity: expected a decimal string'],
    ['quantity malformed', { quantity: '1,5' }, 'quantity: not a decimal number: "1,5"'],
    [
      'quantity too precise',
      { quantity: '1.0000000000000000001' },
      'quantity: "1.0000000000000000001" has more than 18 decimal places',
    ],
    ['quantity zero', { quantity: '0' }, 'quantity: must be > 0, got 0'],
    ['quantity negative', { quantity: '-1' }, 'quantity: must be > 0, got -1'],
    ['price zero', { price: '0.000' }, 'price: must be > 0, got 0.000'],
    ['price too precise', { price: '1.0000000000001' }, 'price: "1.0000000000001" has more than 12 decimal places'],
    ['USD card spend not at 1', { type: 'card_spend', asset: 'USD', price: '1.01' }, 'price: must be 1 for USD'],
    ['negative fee', { fee: '-0.01' }, 'fee: must be >= 0, got -0.01'],
    ['USD fee beyond USD_SCALE', { fee: '0.0000000000001' }, 'fee: "0.0000000000001" has more than 12 decimal places'],
    ['fee missing', { fee: undefined }, 'fee: expected a decimal string'],
    [
      'base fee above a buy',
      { feeAsset: 'BTC', fee: '1.000000000000000001' },
      'fee: a base-asset fee cannot exceed the quantity bought',
    ],
    [
      'base fee above a deposit',
      { type: 'deposit', feeAsset: 'BTC', fee: '2' },
      'fee: a base-asset fee cannot exceed the quantity deposited',
    ],
    ['event id with a space', { eventId: 'tx 1' }, 'eventId: invalid value "tx 1"'],
    ['event id too long', { eventId: 'x'.repeat(129) }, `eventId: invalid value "${'x'.repeat(80)}"`],
    ['user id with a slash', { userId: 'a/b' }, 'userId: invalid value "a/b"'],
    ['user id empty', { userId: '' }, 'userId: invalid value ""'],
    ['time as a string', { eventTime: '1704067200000' }, 'eventTime: expected integer epoch milliseconds'],
    ['time fractional', { eventTime: T0 + 0.5 }, 'eventTime: expected integer epoch milliseconds'],
    ['time unsafe', { eventTime: 2 ** 53 }, 'eventTime: expected integer epoch milliseconds'],
    [
      'time in seconds',
      { eventTime: 1704067200 },
      'eventTime: 1704067200 is outside 2009-01-03..2100-01-01 (milliseconds expected)',
    ],
    [
      'time at the upper bound (exclusive)',
      { eventTime: MAX_EVENT_TIME },
      `eventTime: ${MAX_EVENT_TIME} is outside 2009-01-03..2100-01-01 (milliseconds expected)`,
    ],
    [
      'time before genesis',
      { eventTime: MIN_EVENT_TIME - 1 },
      `eventTime: ${MIN_EVENT_TIME - 1} is outside 2009-01-03..2100-01-01 (milliseconds expected)`,
    ],
  ];
  it.each(cases)('rejects %s', (_name, over, reason) => {
    expect(reasonOf(validateTransaction(rawTx(over)))).toBe(reason);
  });

  it('accepts the boundary values', () => {
    expect(validateTransaction(rawTx({ eventTime: MIN_EVENT_TIME })).ok).toBe(true);
    expect(validateTransaction(rawTx({ eventTime: MAX_EVENT_TIME - 1 })).ok).toBe(true);
    expect(validateTransaction(rawTx({ feeAsset: 'BTC', fee: '1' })).ok).toBe(true); // fee = quantity
    expect(validateTransaction(rawTx({ type: 'sell', feeAsset: 'BTC', fee: '5' })).ok).toBe(true); // checked against holdings later
    expect(validateTransaction(rawTx({ type: 'card_spend', asset: 'USD', price: '1.000' })).ok).toBe(true);
    expect(validateTransaction(rawTx({ eventId: 'binance:BTC_USDT-1.x' })).ok).toBe(true);
  });
});

describe('validateReward', () => {
  it('returns a reward without refEventId when it is absent or null', () => {
    const a = validateReward(rawReward());
    const b = validateReward(rawReward({ refEventId: null }));
    expect(a.ok && 'refEventId' in a.event).toBe(false);
    expect(b.ok && 'refEventId' in b.event).toBe(false);
    const c = validateReward(rawReward({ rewardType: 'cashback', refEventId: 'tx-9' }));
    expect(c.ok && c.event.refEventId).toBe('tx-9');
    expect(c.ok && c.event.quantity.toString()).toBe('0.500000000000000000');
  });

  it.each([
    ['wrong kind', { kind: 'transaction' }, 'kind: expected reward, got "transaction"'],
    ['USD asset', { asset: 'USD' }, 'asset: rewards are credited in a crypto asset, not USD'],
    ['bad ref', { refEventId: 'a b' }, 'refEventId: invalid value "a b"'],
    ['ref not a string', { refEventId: 5 }, 'refEventId: expected a string'],
    ['reward type', { rewardType: 'airdrop' }, 'rewardType: expected one of cashback, staking, got "airdrop"'],
    ['zero quantity', { quantity: '0' }, 'quantity: must be > 0, got 0'],
    ['zero price', { price: '0' }, 'price: must be > 0, got 0'],
    ['missing time', { eventTime: undefined }, 'eventTime: expected integer epoch milliseconds'],
  ] as [string, Record<string, unknown>, string][])('rejects %s', (_n, over, reason) => {
    expect(reasonOf(validateReward(rawReward(over)))).toBe(reason);
  });
});

describe('validatePrice', () => {
  it('accepts a zero-quantity print', () => {
    const v = validatePrice(rawPrice({ quantity: '0' }));
    expect(v.ok && v.event.quantity.isZero()).toBe(true);
    expect(v.ok && v.event.price.toString()).toBe('42000.000000000000');
  });

  it.each([
    ['wrong kind', { kind: 'reward' }, 'kind: expected price, got "reward"'],
    ['lower-case symbol', { symbol: 'btcusdt' }, 'symbol: invalid value "btcusdt"'],
    ['one-letter symbol', { symbol: 'B' }, 'symbol: invalid value "B"'],
    ['zero price', { price: '0' }, 'price: must be > 0, got 0'],
    ['negative volume', { quantity: '-0.1' }, 'quantity: must be >= 0, got -0.1'],
    ['trade id', { tradeId: '' }, 'tradeId: invalid value ""'],
    ['source', { source: 'kraken' }, 'source: expected one of binance, replay, synthetic, got "kraken"'],
    ['time', { eventTime: 1.5 }, 'eventTime: expected integer epoch milliseconds'],
  ] as [string, Record<string, unknown>, string][])('rejects %s', (_n, over, reason) => {
    expect(reasonOf(validatePrice(rawPrice(over)))).toBe(reason);
  });
});

describe('symbols', () => {
  it('maps assets to USDT symbols and back', () => {
    expect(symbolOf('BTC')).toBe('BTCUSDT');
    expect(assetOf('ETHUSDT')).toBe('ETH');
    expect(assetOf('USDT')).toBeUndefined();
    expect(assetOf('ETHBTC')).toBeUndefined();
  });
});

describe('bounded values (issue 16: nothing valid overflows a warehouse DECIMAL)', () => {
  it('refuses quantity 1e19 x price 1e25, the case that used to fail a whole build', () => {
    expect(reasonOf(validateTransaction(rawTx({ quantity: '1e19', price: '1e25' })))).toBe(
      'quantity x price: 100000000000000000000000000000000000000000000 USD does not fit the warehouse (at most 26 integer digits, DECIMAL(38,12))',
    );
    expect(reasonOf(validateReward(rawReward({ quantity: '1e19', price: '1e25' })))).toMatch(/^quantity x price: /);
    expect(reasonOf(validatePrice(rawPrice({ quantity: '1e19', price: '1e25' })))).toMatch(/^quantity x price: /);
  });

  it('accepts up to 26 integer digits of USD, checks a base fee valued at the price', () => {
    expect(validateTransaction(rawTx({ quantity: '1e12', price: '99999999999999.99' })).ok).toBe(true);
    expect(reasonOf(validateTransaction(rawTx({ quantity: '1e12', price: '1e14' })))).toMatch(
      /^quantity x price: 100000000000000000000000000 USD/,
    );
    expect(
      reasonOf(validateTransaction(rawTx({ type: 'sell', quantity: '1', fee: '1e19', feeAsset: 'BTC', price: '1e8' }))),
    ).toMatch(/^fee x price: /);
  });

  it('decides at the boundary exactly as the rounded product does (the check skips the rounding when it can)', () => {
    // Products within a few units of the largest amount, from both sides, at every scale split.
    const max = MAX_EVENT_USD.units * 10n ** 18n;
    fc.assert(
      fc.property(
        fc.bigInt({ min: 10n ** 18n, max: 10n ** 22n }),
        fc.bigInt({ min: -(10n ** 18n), max: 10n ** 18n }),
        (pu, d) => {
          const qu = (max + d) / pu;
          const q = Decimal.fromUnits(qu, QTY_SCALE);
          const p = Decimal.fromUnits(pu, PRICE_SCALE);
          if (!q.fits() || !p.fits() || !q.isPositive()) return;
          const r = validatePrice(rawPrice({ quantity: q.toPlain(), price: p.toPlain() }));
          expect(r.ok).toBe(!q.mul(p, USD_SCALE).gt(MAX_EVENT_USD));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
