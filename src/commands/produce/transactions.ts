import type { ProduceImportResult } from '../../app/produce/import.js';
import { BaseCommand } from '../../cli/base-command.js';
import { importFlags, runImport } from '../../cli/import-command.js';

export default class ProduceTransactions extends BaseCommand<typeof ProduceTransactions> {
  static override summary = "Import the platform's own transactions (an export or a backfill) into raw.transactions.";
  static override description =
    'Every row is validated against the transaction contract (docs/contracts.md); bad rows go to the dlq with the ' +
    'reason and file:line. Event ids come from the rows, so importing the same file twice changes nothing downstream.';
  static override examples = [
    '<%= config.bin %> produce transactions --file export/transactions-2026-11.jsonl',
    '<%= config.bin %> produce transactions --file backfill.csv --json',
  ];
  static override flags = importFlags;

  async run(): Promise<ProduceImportResult> {
    return this.untilStopped((signal) =>
      runImport(this.appConfig, 'transactions', this.flags.file, signal, (l) => this.log(l)),
    );
  }
}
