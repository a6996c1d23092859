import { describe, expect, it } from 'vitest';
import { awaitWithHeartbeats } from '../../../src/app/stream/runtime.js';

/**
 * A batch that waits for the runtime's lock (a partition's acquire loading its users, a checkpoint)
 * must keep the member alive and let it rejoin: measured before this, two workers on 1M events of
 * 100k users re-acquired every partition 7-33 times, because waiting batches sent no heartbeat.
 */
const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('awaitWithHeartbeats (stream runtime: a waiting batch keeps the group session)', () => {
  it('heartbeats while the work runs, and returns its outcome', async () => {
    let beats = 0;
    await awaitWithHeartbeats(
      delay(130),
      async () => {
        beats++;
      },
      20,
      () => expect.unreachable('nothing failed'),
    );
    expect(beats).toBeGreaterThanOrEqual(2);
    expect(beats).toBeLessThanOrEqual(7);
  });

  it('work that settles before the first interval sends no heartbeat', async () => {
    let beats = 0;
    await awaitWithHeartbeats(
      Promise.resolve(),
      async () => {
        beats++;
      },
      50,
      () => undefined,
    );
    expect(beats).toBe(0);
    await expect(
      awaitWithHeartbeats(
        Promise.reject(new Error('checkpoint failed')),
        async () => undefined,
        50,
        () => undefined,
      ),
    ).rejects.toThrow('checkpoint failed');
  });

  it('a heartbeat that reports a rebalance abandons the wait at once with its error', async () => {
    let abandoned = false;
    let beats = 0;
    const t0 = Date.now();
    await expect(
      awaitWithHeartbeats(
        delay(5_000),
        async () => {
          if (++beats === 2) throw new Error('The group is rebalancing, so a rejoin is needed');
        },
        20,
        () => {
          abandoned = true;
        },
      ),
    ).rejects.toThrow(/rebalancing/);
    expect(abandoned).toBe(true);
    expect(beats).toBe(2);
    expect(Date.now() - t0).toBeLessThan(1_000);
  });
});
