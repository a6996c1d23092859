import { type StackStatusResult, stackStatus } from '../../app/stack.js';
import { BaseCommand, queryFlags } from '../../cli/base-command.js';
import { renderTableModel, type TableModel } from '../../cli/table.js';

type Component = StackStatusResult['components'][number];

export const stackModel = (r: StackStatusResult): TableModel<Component> => ({
  columns: [
    { header: 'component', kind: 'text', value: (s) => s.name },
    { header: 'healthy', kind: 'text', value: (s) => (s.healthy ? 'yes' : 'no') },
    { header: 'port', kind: 'id', value: (s) => s.port },
    { header: 'pid', kind: 'id', priority: 2, value: (s) => s.pid ?? null },
    { header: 'version', kind: 'text', priority: 1, value: (s) => s.version ?? null },
    { header: 'data dir', kind: 'text', priority: 3, csv: 'data_dir', value: (s) => s.dataDir },
    { header: 'detail', kind: 'text', value: (s) => s.detail },
  ],
  rows: r.components,
});

export default class StackStatus extends BaseCommand<typeof StackStatus> {
  static override summary = 'Health, port, pid, version and data dir of each component.';
  static override description = 'Exits 1 when a component is down, so scripts can wait on it.';
  static override examples = ['<%= config.bin %> stack status', '<%= config.bin %> stack status --json'];
  static override flags = { ...queryFlags };

  async run(): Promise<StackStatusResult> {
    const result = await stackStatus(this.appConfig);
    this.show(
      (o) => {
        const missing = result.topics.filter((t) => !t.present).map((t) => t.name);
        return [
          renderTableModel(stackModel(result), o),
          missing.length === 0
            ? `topics: all ${result.topics.length} present`
            : `topics missing: ${missing.join(', ')} (create them with \`cryptolambda stack up\`)`,
        ].join('\n');
      },
      () => stackModel(result),
    );
    if (!result.healthy) process.exitCode = 1;
    return result;
  }
}
