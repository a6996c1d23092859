import { type StackUpResult, stackUp } from '../../app/stack.js';
import { BaseCommand } from '../../cli/base-command.js';

export default class StackUp extends BaseCommand<typeof StackUp> {
  static override summary = 'Start the local Kafka (KRaft) and Redis and create the topics.';
  static override description =
    'Idempotent: services already running are left alone, topics are created only if missing. ' +
    'Kafka jars are fetched once from Maven Central into the cache dir; state and logs go to the state dir.';
  static override examples = ['<%= config.bin %> stack up', '<%= config.bin %> stack up --json'];

  async run(): Promise<StackUpResult> {
    const result = await stackUp(this.appConfig, (m) => this.progress(m));
    for (const c of result.components) {
      const where = `127.0.0.1:${c.port}`;
      const what = { started: 'started', running: 'already running', external: 'reused (not started by us)' }[c.action];
      this.log(
        `${c.name.padEnd(6)} ${what} on ${where}${c.pid ? ` (pid ${c.pid})` : ''}${c.version && c.action !== 'external' ? `, v${c.version}` : ''}`,
      );
    }
    this.log(`topics ${result.topics.created.length} created, ${result.topics.existing.length} already present`);
    this.log('stop with: cryptolambda stack down');
    return result;
  }
}
