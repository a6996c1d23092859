import { Args, Flags } from '@oclif/core';
import { type TailRecord, tailTopic } from '../../app/topics.js';
import { BaseCommand } from '../../cli/base-command.js';
import { colorEnabled, makeChalk } from '../../cli/render.js';
import { DEFAULT_WIDTH, visibleWidth } from '../../cli/table.js';
import { TOPICS } from '../../core/topics.js';

/** One line per record: where, when, key, then the decoded value (a dead letter leads with its reason). */
export const tailLine = (r: TailRecord, width: number): string => {
  const v = (r.value ?? {}) as Record<string, unknown>;
  const dead = r.topic === TOPICS.deadLetter.name && r.error === undefined;
  // A dead letter's own key (file:line, stream name) says more than the Kafka key (its source).
  const key = dead && typeof v.key === 'string' ? v.key : r.key;
  const head = `${new Date(r.timestamp).toISOString()} p${r.partition}@${r.offset}${key === null ? '' : ` ${key}`}`;
  let body: string;
  if (r.error !== undefined) body = `undecodable: ${r.error}`;
  else if (dead) body = `${String(v.source)}: ${String(v.reason)}  payload ${String(v.payload)}`;
  else {
    const { kind: _k, ...fields } = v;
    body = JSON.stringify(fields);
  }
  const line = `${head}  ${body}`;
  return visibleWidth(line) <= width ? line : `${[...line].slice(0, width - 1).join('')}…`;
};

export default class TopicsTail extends BaseCommand<typeof TopicsTail> {
  static override summary = 'Print the records of a topic, decoded by its contract (dlq with the rejection reasons).';
  static override description =
    'Decodes the Avro contracts of raw.prices, raw.transactions, raw.rewards, late.prices and the dlq envelope ' +
    '(reason, source and the rejected payload) and the JSON of tier.changes. Reads by offset with no committed ' +
    "consumer group, so it never moves the stream's or ingest's position. Lines are cut to 80 columns; --wide " +
    'prints them whole; --json prints the records.';
  static override examples = [
    '<%= config.bin %> topics tail dlq --from-beginning --limit 20',
    '<%= config.bin %> topics tail raw.prices --follow',
    '<%= config.bin %> topics tail tier.changes --limit 5 --json',
  ];
  static override args = {
    topic: Args.string({
      description: 'Logical topic name (without the prefix).',
      required: true,
      options: Object.values(TOPICS).map((t) => t.name),
    }),
  };
  static override flags = {
    limit: Flags.integer({
      description: 'Records shown (the last ones, or the first with --from-beginning).',
      default: 20,
      min: 1,
      max: 100_000,
    }),
    'from-beginning': Flags.boolean({ description: 'Start at the oldest retained record.' }),
    follow: Flags.boolean({
      description: 'Keep printing new records until Ctrl-C (not with --json).',
      exclusive: ['json'],
    }),
    wide: Flags.boolean({ description: 'Do not cut lines to 80 columns.', helpGroup: 'OUTPUT' }),
  };

  async run(): Promise<{ records: TailRecord[] }> {
    const f = this.flags;
    const out: TailRecord[] = [];
    const width = f.wide ? Number.POSITIVE_INFINITY : DEFAULT_WIDTH;
    const c = makeChalk(colorEnabled());
    const r = await this.untilStopped((signal) =>
      tailTopic(this.appConfig, this.args.topic, {
        fromBeginning: f['from-beginning'],
        limit: f.limit,
        follow: f.follow,
        signal,
        onRecord: (rec) => {
          if (this.jsonEnabled()) out.push(rec);
          else this.log(rec.error === undefined ? tailLine(rec, width) : c.yellow(tailLine(rec, width)));
        },
      }),
    );
    if (r.records === 0) this.warnLine(`no records on ${this.appConfig.topicPrefix}${this.args.topic}`);
    return { records: out };
  }
}
