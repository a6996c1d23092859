import { describe, expect, it } from 'vitest';
import { classify, NO_WATERMARK, WatermarkTracker } from '../../../src/core/ohlcv/watermark.js';

const opts = { outOfOrdernessMs: 1_000, idleTimeoutMs: 10_000 };

describe('WatermarkTracker', () => {
  it('has no watermark before any event', () => {
    const w = new WatermarkTracker(opts);
    expect(w.current(0)).toBe(NO_WATERMARK);
    expect(w.partitionWatermark('p0')).toBe(NO_WATERMARK);
    expect(w.snapshot()).toEqual({});
  });

  it('per partition: max event time seen minus the out-of-orderness bound', () => {
    const w = new WatermarkTracker(opts);
    w.observe('p0', 5_000, 0);
    w.observe('p0', 3_000, 1); // out of order: does not move the max
    expect(w.partitionWatermark('p0')).toBe(4_000);
    w.observe('p0', 9_000, 2);
    expect(w.partitionWatermark('p0')).toBe(8_000);
    expect(w.partitionWatermark('p1')).toBe(NO_WATERMARK);
  });

  it('stream: min over active partitions; an idle one stops holding it back', () => {
    const w = new WatermarkTracker(opts);
    w.observe('p0', 50_000, 0);
    w.observe('p1', 10_000, 0);
    expect(w.current(9_999)).toBe(9_000);
    w.observe('p0', 60_000, 9_999);
    // p1 silent for exactly idleTimeoutMs: idle
    expect(w.current(10_000)).toBe(59_000);
  });

  it('never goes back, even when an idle partition wakes up behind', () => {
    const w = new WatermarkTracker(opts);
    w.observe('p0', 50_000, 0);
    w.observe('p1', 10_000, 0);
    w.observe('p0', 50_000, 20_000);
    expect(w.current(20_000)).toBe(49_000);
    w.observe('p1', 11_000, 20_001);
    expect(w.current(20_002)).toBe(49_000);
  });

  it('when every partition is idle, the furthest one bounds the watermark', () => {
    const w = new WatermarkTracker(opts);
    w.observe('p0', 50_000, 0);
    w.observe('p1', 10_000, 0);
    expect(w.current(60_000)).toBe(49_000);
  });

  it('forgets a revoked partition and restores from a snapshot', () => {
    const w = new WatermarkTracker(opts);
    w.observe('p0', 50_000, 0);
    w.observe('p1', 10_000, 0);
    w.forget('p1');
    expect(w.current(1)).toBe(49_000);
    expect(w.snapshot()).toEqual({ p0: 50_000 });
    const r = new WatermarkTracker(opts);
    r.restore({ p0: 50_000, p2: 20_000 }, 100);
    expect(r.current(100)).toBe(19_000);
    expect(r.partitionWatermark('p0')).toBe(49_000);
  });
});

describe('classify', () => {
  it('on time before the window end, late within the allowed lateness, too late after', () => {
    const end = 60_000;
    expect(classify(end, NO_WATERMARK, 0)).toBe('on_time');
    expect(classify(end, end - 1, 30_000)).toBe('on_time');
    expect(classify(end, end, 30_000)).toBe('late');
    expect(classify(end, end + 29_999, 30_000)).toBe('late');
    expect(classify(end, end + 30_000, 30_000)).toBe('too_late');
    expect(classify(end, end, 0)).toBe('too_late');
  });
});
