import { Flags } from '@oclif/core';
import { type PipelineStatus, readPipelineStatus } from '../../app/pipeline/ledger.js';
import { pipelineStateDir } from '../../app/pipeline/pipeline.js';
import { BaseCommand, queryFlags } from '../../cli/base-command.js';
import { renderTableModel, type TableModel } from '../../cli/table.js';
import { assertDate } from '../../core/pipeline/dag.js';

type DateStatus = PipelineStatus['dates'][number];

/** Step statuses in a few letters, so six step columns fit 80 columns (--wide and CSV spell them). */
const SHORT: Record<string, string> = {
  succeeded: 'ok',
  failed: 'FAIL',
  blocked: 'blkd',
  skipped: 'skip',
  running: 'run',
  pending: 'pend',
};

export const pipelineStatusModel = (s: PipelineStatus, full = false): TableModel<DateStatus> => {
  const steps = [...new Set(s.dates.flatMap((d) => Object.keys(d.steps)))];
  return {
    columns: [
      { header: 'date', kind: 'text', value: (d) => d.date },
      {
        header: 'last run (UTC)',
        kind: 'text',
        priority: 2,
        csv: 'last_run',
        value: (d) => d.lastRun.startedAt.slice(0, 19).replace('T', ' '),
      },
      { header: 'status', kind: 'text', value: (d) => d.lastRun.status },
      { header: 'runs', kind: 'int', priority: 1, value: (d) => d.runs },
      ...steps.map((n) => ({
        header: n,
        kind: 'text' as const,
        value: (d: DateStatus) => {
          const v = d.steps[n];
          return v === undefined ? null : full ? v : (SHORT[v] ?? v);
        },
      })),
    ],
    rows: s.dates,
  };
};

export default class PipelineStatusCommand extends BaseCommand<typeof PipelineStatusCommand> {
  static override summary = 'Show the run ledger: the lock, each date and its steps, recent runs.';
  static override examples = [
    '<%= config.bin %> pipeline status',
    '<%= config.bin %> pipeline status --from 2026-11-01 --json',
  ];
  static override flags = {
    ...queryFlags,
    from: Flags.string({ description: 'Only dates on or after YYYY-MM-DD.' }),
    to: Flags.string({ description: 'Only dates on or before YYYY-MM-DD.' }),
    limit: Flags.integer({ description: 'Recent runs to list.', default: 20, min: 1 }),
  };

  async run(): Promise<PipelineStatus> {
    const f = this.flags;
    const s = await readPipelineStatus(pipelineStateDir(this.appConfig), {
      ...(f.from === undefined ? {} : { from: assertDate(f.from) }),
      ...(f.to === undefined ? {} : { to: assertDate(f.to) }),
      limit: f.limit,
      lakeDir: this.appConfig.lakeDir,
    });
    const lock =
      s.lock.state === 'held'
        ? `held by pid ${s.lock.info.pid} (${s.lock.info.purpose})`
        : s.lock.state === 'stale'
          ? 'stale (its process is gone; the next run breaks it)'
          : 'free';
    if (!this.jsonEnabled() && this.flags.output !== 'csv') {
      this.log(`lock: ${lock}`);
      this.log(`lost offsets (accepted gaps in the raw zone): ${s.lostOffsets}`);
      for (const g of s.gaps)
        this.log(
          `gap: ${g.topic}[${g.partition}] offsets ${g.from}..${BigInt(g.to) - 1n} (${g.lost}) accepted ${g.at}`,
        );
      if (s.dates.length === 0) this.log('no runs recorded yet');
    }
    if (s.dates.length === 0) return s;
    this.show(
      (o) => renderTableModel(pipelineStatusModel(s, o.wide), o),
      () => pipelineStatusModel(s, true),
    );
    return s;
  }
}
