import type { ProduceImportResult } from '../../app/produce/import.js';
import { BaseCommand } from '../../cli/base-command.js';
import { importFlags, runImport } from '../../cli/import-command.js';

export default class ProduceRewards extends BaseCommand<typeof ProduceRewards> {
  static override summary = "Import the platform's own rewards (cashback, staking) into raw.rewards.";
  static override description =
    'Every row is validated against the reward contract (docs/contracts.md); bad rows go to the dlq with the ' +
    'reason and file:line. Event ids come from the rows, so importing the same file twice changes nothing downstream.';
  static override examples = [
    '<%= config.bin %> produce rewards --file export/rewards-2026-11.csv',
    '<%= config.bin %> produce rewards --file rewards.jsonl --json',
  ];
  static override flags = importFlags;

  async run(): Promise<ProduceImportResult> {
    return this.untilStopped((signal) =>
      runImport(this.appConfig, 'rewards', this.flags.file, signal, (l) => this.log(l)),
    );
  }
}
