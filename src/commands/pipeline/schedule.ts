import { Args, Flags } from '@oclif/core';
import { pipelineLockPath } from '../../app/pipeline/lock.js';
import { pipelineStateDir, runPipelineDate } from '../../app/pipeline/pipeline.js';
import { runSchedule } from '../../app/pipeline/schedule.js';
import { BaseCommand } from '../../cli/base-command.js';
import { durationFlag } from '../../cli/flags.js';
import { isCryptolambdaError } from '../../core/errors.js';
import { parseCron } from '../../core/pipeline/cron.js';
import { runFailureReason } from '../../core/pipeline/run.js';

export default class PipelineSchedule extends BaseCommand<typeof PipelineSchedule> {
  static override summary = 'Run the daily pipeline on a cron schedule, for machines without cron.';
  static override description =
    'Five-field cron expression in UTC. Each fire runs the DAG for the date --days-back days before the fire time ' +
    '(default 1: yesterday). A fire is skipped while another run holds the pipeline lock, so manual runs and ' +
    'backfills never overlap; a failed day is alerted like `pipeline run` and picked up by the next fire. ' +
    'SIGINT/SIGTERM stop it after the current run.';
  static override examples = ['<%= config.bin %> pipeline schedule "15 1 * * *"'];
  static override args = {
    cron: Args.string({ description: 'Cron expression, e.g. "15 1 * * *" (01:15 UTC daily).', required: true }),
  };
  static override flags = {
    'days-back': Flags.integer({
      description: 'Which date a fire processes: fire date minus N days.',
      default: 1,
      min: 0,
    }),
    'sensor-timeout': durationFlag({ description: 'How long the sensor waits for the date', default: '2h', bare: 's' }),
    'allowed-lateness': durationFlag({
      description: 'Event-time slack after the day end [default: speed.allowedLateness, 30s]',
      bare: 'ms',
    }),
    deadline: Flags.string({ description: 'Alert when a run is not finished by HH:MM UTC.' }),
  };

  async run(): Promise<{ fired: number }> {
    const f = this.flags;
    const cron = parseCron(this.args.cron);
    const sensorTimeoutMs = f['sensor-timeout'];
    return this.untilStopped(async (signal) => {
      return await runSchedule({
        cron,
        signal: signal,
        lockFile: pipelineLockPath(pipelineStateDir(this.appConfig)),
        onEvent: (e) => {
          if (e.type === 'waiting') this.progress(`schedule: next run at ${e.next.toISOString()}`);
          else if (e.type === 'skipped_locked')
            this.progress(`schedule: ${e.at.toISOString()} skipped, a run holds the lock`);
          else if (e.type === 'fire_failed') this.progress(`schedule: ${e.at.toISOString()} failed: ${e.error}`);
        },
        onFire: async (at, signal) => {
          const date = new Date(at.getTime() - f['days-back'] * 86_400_000).toISOString().slice(0, 10);
          try {
            const run = await runPipelineDate(this.appConfig, date, {
              allowedLatenessMs: f['allowed-lateness'] ?? this.appConfig.speed.allowedLateness,
              sensorTimeoutMs,
              signal,
              ...(f.deadline === undefined ? {} : { deadline: f.deadline }),
            });
            this.progress(runFailureReason(run) ?? `pipeline ${date}: succeeded`);
          } catch (err) {
            // A lock conflict or an unreachable broker must not end the schedule: log and wait.
            this.progress(`pipeline ${date}: ${isCryptolambdaError(err) ? err.message : String(err)}`);
          }
        },
      });
    });
  }
}
