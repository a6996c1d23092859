import { type PartitionStatus, type StreamStatus, streamStatus } from '../../app/stream/status.js';
import { BaseCommand, queryFlags } from '../../cli/base-command.js';
import { iso } from '../../cli/render-serving.js';
import { renderTableModel, type TableModel } from '../../cli/table.js';

const count = (k: string) => (p: PartitionStatus) => p.counts[k] ?? 0;

export const streamModel = (s: StreamStatus): TableModel<PartitionStatus> => ({
  columns: [
    { header: 'part', kind: 'id', csv: 'partition', value: (p) => p.partition },
    { header: 'watermark', kind: 'text', value: (p) => iso(p.watermark) },
    {
      header: 'users watermark',
      kind: 'text',
      priority: 3,
      csv: 'users_watermark',
      value: (p) => iso(p.usersWatermark),
    },
    { header: 'lag', kind: 'int', value: (p) => Object.values(p.lag).reduce((a, b) => a + b, 0) },
    { header: 'on time', kind: 'int', csv: 'on_time', value: count('onTime') },
    { header: 'late', kind: 'int', value: count('late') },
    { header: 'too late', kind: 'int', csv: 'too_late', value: count('tooLate') },
    { header: 'dup trades', kind: 'int', priority: 1, csv: 'duplicate_trades', value: count('duplicateTrades') },
    { header: 'user events', kind: 'int', priority: 1, csv: 'user_events', value: count('userEvents') },
    { header: 'dup events', kind: 'int', priority: 2, csv: 'duplicate_events', value: count('duplicates') },
    { header: 'rejected', kind: 'int', priority: 2, value: count('rejected') },
    { header: 'invalid', kind: 'int', priority: 2, value: count('invalid') },
  ],
  rows: s.partitions,
});

/**
 * An empty keyspace is almost always the wrong --topic-prefix (the demo's ends with "."): say so
 * instead of a table of nothing that reads like an idle stream.
 */
export const emptyKeyspaceWarning = (s: StreamStatus, prefix: string): string | undefined =>
  s.partitions.length === 0 && s.symbols === 0
    ? `no speed-layer state under keyspace "${s.keyspace}" (topic prefix ${JSON.stringify(prefix)}); is the prefix right, and has \`cryptolambda stream\` run with it?`
    : undefined;

export default class StreamStatusCommand extends BaseCommand<typeof StreamStatusCommand> {
  static override summary = "Show the speed layer's watermarks, lag and counters (read from Redis and Kafka).";
  static override examples = ['<%= config.bin %> stream status', '<%= config.bin %> stream status --json'];
  static override flags = { ...queryFlags };

  async run(): Promise<StreamStatus> {
    const s = await streamStatus(this.appConfig);
    const warning = emptyKeyspaceWarning(s, this.appConfig.topicPrefix);
    if (warning !== undefined) this.warnLine(warning);
    for (const g of s.gaps)
      this.warnLine(
        `gap: ${g.topic}[${g.partition}] offsets ${g.from}..${BigInt(g.to) - 1n} (${g.lost}) lost, accepted ${g.at}`,
      );
    this.show(
      (o) =>
        [
          `watermark ${iso(s.watermark)}  lag ${s.totalLag}  symbols ${s.symbols}  lost offsets ${s.lostOffsets}`,
          renderTableModel(streamModel(s), o),
        ].join('\n'),
      () => streamModel(s),
    );
    return s;
  }
}
