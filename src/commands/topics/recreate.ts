import { Flags } from '@oclif/core';
import { type RecreateResult, recreateTopics } from '../../app/topics-recreate.js';
import { BaseCommand } from '../../cli/base-command.js';

export default class TopicsRecreate extends BaseCommand<typeof TopicsRecreate> {
  static override summary =
    'Delete raw.prices, raw.transactions and raw.rewards and create them again with the contract’s partition count (repartitioning).';
  static override description =
    'The Kafka step of the repartition procedure (docs/runbook.md, "Repartitioning"). Refuses while a stream worker ' +
    'runs or while the topics hold a record the raw zone lacks (run ingest first), so nothing is lost: the raw zone ' +
    'then holds everything the old topics held. After the new topics exist, the raw-zone manifest starts their ' +
    'offsets at 0 (recorded under "recreated"). Without --yes it only checks and says what it would delete. ' +
    'Next: stream --bootstrap-from-batch --force, then restart the producers.';
  static override examples = ['<%= config.bin %> topics recreate', '<%= config.bin %> topics recreate --yes'];
  static override flags = {
    yes: Flags.boolean({
      description: 'Really delete and recreate the topics (otherwise: check only).',
      default: false,
    }),
  };

  async run(): Promise<RecreateResult> {
    const r = await recreateTopics(this.appConfig, { yes: this.flags.yes });
    const what = r.topics
      .map((t) => `${t.topic} (${t.previousPartitions} → ${t.partitions} partitions, ${t.records} records)`)
      .join(', ');
    if (r.dryRun)
      this.log(
        `would delete and recreate ${what}; every record is in the raw zone (manifest commit ${r.manifestCommit}). ` +
          'Rerun with --yes to do it.',
      );
    else
      this.log(
        `recreated ${what}; manifest commit ${r.manifestCommit} starts them at offset 0. ` +
          'Next: stream --bootstrap-from-batch --force, then restart the producers.',
      );
    return r;
  }
}
