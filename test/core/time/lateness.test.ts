import { describe, expect, it } from 'vitest';
import { HighWaterMarks, isTooLate, tooLateReason } from '../../../src/core/time/lateness.js';

describe('the one lateness rule of both layers', () => {
  it('an event is TOO_LATE only when more than the lateness before the mark before it', () => {
    expect(isTooLate(1_000, undefined, 100)).toBe(false); // a partition's first record
    expect(isTooLate(900, 1_000, 100)).toBe(false); // exactly the lateness behind: still placed
    expect(isTooLate(899, 1_000, 100)).toBe(true);
    expect(isTooLate(5_000, 1_000, 100)).toBe(false); // ahead of the mark
  });

  it('marks are per key, returned before the event and advanced only forward', () => {
    const h = new HighWaterMarks([['t|0', 50]]);
    expect(h.next('t|0', 40)).toBe(50);
    expect(h.next('t|0', 70)).toBe(50);
    expect(h.next('t|0', 60)).toBe(70);
    expect(h.next('t|1', 10)).toBeUndefined();
    expect(h.next('t|1', 5)).toBe(10);
    expect(Object.fromEntries(h.entries())).toEqual({ 't|0': 70, 't|1': 10 });
  });

  it('the reason names the event time, the lateness and the mark', () => {
    const r = tooLateReason(
      Date.UTC(2026, 10, 20, 13, 40),
      Date.UTC(2026, 10, 20, 15),
      3_600_000,
      'raw.transactions partition 2',
    );
    expect(r).toBe(
      'event time 2026-11-20T13:40:00.000Z is more than the user lateness (60 min) before 2026-11-20T15:00:00.000Z, the latest event time earlier in raw.transactions partition 2',
    );
  });
});
