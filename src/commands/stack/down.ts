import { type StackDownResult, stackDown } from '../../app/stack.js';
import { BaseCommand } from '../../cli/base-command.js';

export default class StackDown extends BaseCommand<typeof StackDown> {
  static override summary = 'Stop the Kafka and Redis that `stack up` started (and nothing else).';
  static override description = 'Data stays in the state dir; the next `stack up` resumes from it.';
  static override examples = ['<%= config.bin %> stack down'];

  async run(): Promise<StackDownResult> {
    const result = await stackDown(this.appConfig);
    for (const c of result.components) {
      this.log(`${c.name.padEnd(6)} ${c.result}${c.pid ? ` (pid ${c.pid})` : ''}`);
    }
    return result;
  }
}
