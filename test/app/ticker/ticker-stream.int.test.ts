import { describe, expect, it, onTestFinished } from 'vitest';
import { openTickerSource, tickerOnce } from '../../../src/app/ticker/ticker.js';
import type { UserEvent } from '../../../src/core/events/types.js';
import { symbolOf } from '../../../src/core/events/validate.js';
import { Decimal, USD_SCALE } from '../../../src/core/money/decimal.js';
import { compareEvents, valueAt } from '../../../src/core/portfolio/position.js';
import { emptyUser, replayUser } from '../../../src/core/speed/user-ledger.js';
import { makeDataset, produceDataset, userEvents } from '../../support/events.js';
import { runStreamToIdle, streamTestConfig } from '../../support/stream.js';

/**
 * The ticker over state the speed layer itself wrote: events go through real Kafka and `stream`
 * into Redis, then the ticker's view must show the last trade of every symbol and the user's
 * portfolio value and unrealized P&L exactly as the core computes them from the same events.
 */
describe('ticker over a Redis fed by the speed layer', () => {
  it('shows the last prices and the user portfolio the core computes from the same events', async () => {
    const d = makeDataset({ seed: 11, start: Date.UTC(2026, 10, 21, 10), minutes: 8, users: 6 });
    const config = await streamTestConfig();
    await produceDataset(config, d);
    const run = await runStreamToIdle(config);
    expect(run.stoppedBy).toBe('idle');

    // Last price per symbol = the trade with the greatest (eventTime, eventId).
    const last = new Map<string, Decimal>();
    for (const p of [...d.prices].sort(compareEvents)) last.set(p.symbol, p.price);
    // The busiest user, so the view has several positions.
    const byUser = new Map<string, UserEvent[]>();
    for (const e of userEvents(d)) byUser.set(e.userId, [...(byUser.get(e.userId) ?? []), e]);
    const [user, events] = [...byUser].sort((a, b) => b[1].length - a[1].length)[0]!;
    const { state } = replayUser(emptyUser(user), events);
    let value = Decimal.zero(USD_SCALE);
    let pnl = Decimal.zero(USD_SCALE);
    for (const p of state.positions.values()) {
      const price = last.get(symbolOf(p.asset));
      if (price === undefined || p.quantity.isZero()) continue;
      const v = valueAt(p, price);
      value = value.add(v.marketValue);
      pnl = pnl.add(v.unrealizedPnl);
    }

    expect(value.isZero()).toBe(false); // the user really holds priced assets

    const { source, close } = await openTickerSource(config, { symbols: [...last.keys()], user });
    onTestFinished(close);
    const view = await tickerOnce(source, { staleAfterMs: 10 * 365 * 86_400_000 });
    expect(new Map(view.symbols.map((s) => [s.symbol, s.price?.toString()]))).toEqual(
      new Map([...last].map(([s, p]) => [s, p.toString()])),
    );
    expect(view.user?.id).toBe(user);
    expect(view.user?.unpriced).toEqual([]);
    expect(view.user?.value.toString()).toBe(value.toString());
    expect(view.user?.unrealizedPnl.toString()).toBe(pnl.toString());
    expect(view.user?.tier).toBe(state.tier.tier);
  });
});
