import { Flags } from '@oclif/core';
import { type PipelineStatus, readPipelineStatus } from '../../app/pipeline/ledger.js';
import { pipelineStateDir } from '../../app/pipeline/pipeline.js';
import { BaseCommand } from '../../cli/base-command.js';
import { renderTable } from '../../cli/render.js';
import { assertDate } from '../../core/pipeline/dag.js';

export default class PipelineStatusCommand extends BaseCommand<typeof PipelineStatusCommand> {
  static override summary = 'Show the run ledger: the lock, each date and its steps, recent runs.';
  static override examples = [
    '<%= config.bin %> pipeline status',
    '<%= config.bin %> pipeline status --from 2026-11-01 --json',
  ];
  static override flags = {
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
    this.log(`lock: ${lock}`);
    this.log(`lost offsets (accepted gaps in the raw zone): ${s.lostOffsets}`);
    for (const g of s.gaps)
      this.log(`gap: ${g.topic}[${g.partition}] offsets ${g.from}..${BigInt(g.to) - 1n} (${g.lost}) accepted ${g.at}`);
    if (s.dates.length === 0) {
      this.log('no runs recorded yet');
      return s;
    }
    const steps = [...new Set(s.dates.flatMap((d) => Object.keys(d.steps)))];
    this.log(
      renderTable(
        ['date', 'last run', 'status', 'runs', ...steps],
        s.dates.map((d) => [
          d.date,
          d.lastRun.startedAt.slice(0, 19),
          d.lastRun.status,
          String(d.runs),
          ...steps.map((n) => d.steps[n] ?? '-'),
        ]),
      ),
    );
    return s;
  }
}
