import { render } from 'ink-testing-library';
import { describe, expect, it } from 'vitest';
import { Decimal } from '../../../src/core/money/decimal.js';
import { Pct, trendColor } from '../../../src/ui/ticker/components.js';

const d = (s: string) => Decimal.parse(s, 4);

describe('Pct', () => {
  it('right-aligns a signed percent and carries no escape codes without colour (NO_COLOR)', () => {
    expect(render(<Pct value={d('0.5200')} width={8} color={false} />).lastFrame()).toBe('  +0.52%');
    expect(render(<Pct value={d('-1.1049')} width={8} color={false} />).lastFrame()).toBe('  -1.10%');
    expect(render(<Pct value={d('-0.0049')} width={8} color={false} />).lastFrame()).toBe('   0.00%');
    expect(render(<Pct value={null} width={8} color={false} />).lastFrame()).toBe('     n/a');
  });

  it('paints gains green and losses red, a rounded zero uncoloured, nothing without colour', () => {
    expect(trendColor(d('0.5200'), true)).toBe('green');
    expect(trendColor(d('-1.1049'), true)).toBe('red');
    expect(trendColor(d('-0.0049'), true)).toBeUndefined();
    expect(trendColor(null, true)).toBeUndefined();
    expect(trendColor(d('-1.1049'), false)).toBeUndefined();
  });
});
