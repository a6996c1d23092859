import { Flags } from '@oclif/core';
import { formatProgress, formatSummary, parseRate } from '../app/simulate/options.js';
import { runSimulate, type SimulateResult } from '../app/simulate/simulate.js';
import { BaseCommand } from '../cli/base-command.js';
import { durationFlag } from '../cli/flags.js';
import { MAX_USERS } from '../core/simulate/generator.js';

export default class Simulate extends BaseCommand<typeof Simulate> {
  static override summary = "Simulate users' transactions and rewards, priced from raw.prices.";
  static override description =
    'Seeded and deterministic: by default reads raw.prices up to its current end, walks the ticks in event-time ' +
    'order and produces buys, sells, deposits, withdrawals, staking, card spend with cashback, and daily staking ' +
    'rewards to raw.transactions and raw.rewards (keyed by user id). The same seed and price topic give the same ' +
    'events to the byte. --follow tails new prices instead. SIGINT/SIGTERM flush what was accepted and exit 0.';
  static override examples = [
    '<%= config.bin %> simulate --seed 7 --users 500 --rate 2',
    '<%= config.bin %> simulate --seed 7 --users 50 --rate 0.05 --duration 2d --json',
    '<%= config.bin %> simulate --follow --users 1000 --rate 20 --count 100000',
  ];
  static override flags = {
    seed: Flags.integer({
      description: 'PRNG seed; also part of every event id (sim-<seed>-<seq>).',
      default: 1,
      min: 0,
    }),
    users: Flags.integer({ description: 'Number of simulated users.', default: 100, min: 1, max: MAX_USERS }),
    rate: Flags.string({ description: 'User transactions per second of EVENT time (e.g. 2, 0.05).', default: '1' }),
    count: Flags.integer({ description: 'Stop after this many user transactions (rewards not counted).', min: 1 }),
    duration: durationFlag({
      description: 'Stop after this much event time from the first price',
      bare: 's',
      min: '1ms',
    }),
    follow: Flags.boolean({ description: 'Tail new prices live instead of reading the price topic to its end.' }),
  };

  async run(): Promise<SimulateResult> {
    const f = this.flags;
    const rate = parseRate(f.rate);
    return this.untilStopped(async (signal) => {
      const r = await runSimulate(this.appConfig, {
        seed: f.seed,
        users: f.users,
        rate,
        follow: f.follow,
        ...(f.count === undefined ? {} : { count: f.count }),
        ...(f.duration === undefined ? {} : { durationMs: f.duration }),
        signal: signal,
        onReady: ({ prices }) =>
          this.progress(
            f.follow
              ? 'simulate: following new prices'
              : `simulate: ${prices.toLocaleString('en-US')} price events read`,
          ),
        // A terminal gets one line rewritten in place; pipes and logs get one plain line per second.
        onProgress: (p) => {
          this.logs.statusLine(formatProgress(p));
        },
      });
      this.logs.endStatus();
      for (const line of formatSummary(r)) this.log(line);
      return r;
    });
  }
}
