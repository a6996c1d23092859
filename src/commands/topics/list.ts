import { listTopics, type TopicInfo } from '../../app/topics.js';
import { BaseCommand, queryFlags } from '../../cli/base-command.js';
import { renderTableModel, type TableModel } from '../../cli/table.js';

export const topicsModel = (topics: readonly TopicInfo[]): TableModel<TopicInfo> => ({
  columns: [
    { header: 'topic', kind: 'text', value: (t) => t.name },
    { header: 'present', kind: 'text', value: (t) => (t.present ? 'yes' : 'NO') },
    { header: 'parts', kind: 'int', csv: 'partitions', value: (t) => t.partitions },
    { header: 'records', kind: 'int', value: (t) => t.records },
    { header: 'contents', kind: 'text', priority: 1, csv: 'description', value: (t) => t.description },
  ],
  rows: topics,
});

export default class TopicsList extends BaseCommand<typeof TopicsList> {
  static override summary = 'The topics cryptolambda owns under the topic prefix: present or not, partitions, records.';
  static override examples = ['<%= config.bin %> topics list', '<%= config.bin %> topics list --json'];
  static override flags = { ...queryFlags };

  async run(): Promise<{ topics: TopicInfo[] }> {
    const topics = await listTopics(this.appConfig);
    this.show(
      (o) => {
        const missing = topics.filter((t) => !t.present);
        return [
          renderTableModel(topicsModel(topics), o),
          ...(missing.length > 0 ? ['missing topics: create them with `cryptolambda stack up` (local stack)'] : []),
        ].join('\n');
      },
      () => topicsModel(topics),
    );
    return { topics };
  }
}
