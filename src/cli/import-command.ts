import { Flags } from '@oclif/core';
import { formatImportSummary, type ProduceImportResult, runProduceImport } from '../app/produce/import.js';
import type { Config } from '../config/config.js';
import { CryptolambdaError } from '../core/errors.js';
import type { ImportTable } from '../core/sources/import-rows.js';

/** Shared by `produce transactions` and `produce rewards`. */
export const importFlags = {
  file: Flags.string({
    description: 'JSON lines (contract field names) or CSV with a header row; .csv / .jsonl decide, else the content.',
    required: true,
  }),
};

/** One import, its summary lines, and a non-zero exit when nothing was produced. */
export const runImport = async (
  config: Config,
  table: ImportTable,
  file: string,
  signal: AbortSignal,
  log: (line: string) => void,
): Promise<ProduceImportResult> => {
  const r = await runProduceImport(config, { table, file, signal });
  for (const line of formatImportSummary(r)) log(line);
  if (r.produced === 0 && r.stoppedBy !== 'signal') {
    throw new CryptolambdaError(
      'NO_DATA',
      `no ${table} produced from ${file} (${r.deadLettered} rows dead-lettered)`,
      r.rejections[0] ? `most frequent reason: ${r.rejections[0].reason}` : 'the file has no rows',
    );
  }
  return r;
};
