import { Flags } from '@oclif/core';
import { runSmoke, type SmokeResult } from '../../app/smoke.js';
import { BaseCommand } from '../../cli/base-command.js';

export default class StackCheck extends BaseCommand<typeof StackCheck> {
  static override summary = 'Smoke-test the stack: a Kafka produce/consume round trip and a Redis round trip.';
  static override description =
    'Uses a throw-away topic and key, removed afterwards. Exits 1 if anything is lost or reordered.';
  static override examples = ['<%= config.bin %> stack check', '<%= config.bin %> stack check --count 10000 --json'];
  static override flags = {
    count: Flags.integer({ description: 'Records to send through Kafka.', default: 1000, min: 1, max: 1_000_000 }),
  };

  async run(): Promise<SmokeResult> {
    const r = await runSmoke(this.appConfig, this.flags.count);
    this.log(
      `kafka  ${r.kafka.consumed}/${r.kafka.produced} records back${r.kafka.inOrder ? ', in key order' : ', OUT OF ORDER'} (${r.kafka.millis} ms)`,
    );
    this.log(`redis  ${r.redis.roundTrip ? 'write/read ok' : 'write/read FAILED'} (${r.redis.millis} ms)`);
    this.log(r.ok ? 'stack check passed' : 'stack check FAILED');
    if (!r.ok) process.exitCode = 1;
    return r;
  }
}
