import { type StackStatusResult, stackStatus } from '../../app/stack.js';
import { BaseCommand } from '../../cli/base-command.js';
import { makeChalk, renderTable } from '../../cli/render.js';

export default class StackStatus extends BaseCommand<typeof StackStatus> {
  static override summary = 'Health, port, pid, version and data dir of each component.';
  static override description = 'Exits 1 when a component is down, so scripts can wait on it.';
  static override examples = ['<%= config.bin %> stack status', '<%= config.bin %> stack status --json'];

  async run(): Promise<StackStatusResult> {
    const result = await stackStatus(this.appConfig);
    const c = makeChalk();
    this.log(
      renderTable(
        ['component', 'healthy', 'port', 'pid', 'version', 'data dir', 'detail'],
        result.components.map((s) => [
          s.name,
          s.healthy ? c.green('yes') : c.red('no'),
          s.port,
          s.pid ?? '-',
          s.version ?? '-',
          s.dataDir,
          s.detail,
        ]),
      ),
    );
    const missing = result.topics.filter((t) => !t.present).map((t) => t.name);
    this.log(
      missing.length === 0 ? `topics: all ${result.topics.length} present` : `topics missing: ${missing.join(', ')}`,
    );
    if (!result.healthy) process.exitCode = 1;
    return result;
  }
}
