import { type StreamStatus, streamStatus } from '../../app/stream/status.js';
import { BaseCommand } from '../../cli/base-command.js';
import { renderTable } from '../../cli/render.js';

const iso = (t: number | null): string => (t === null ? '-' : new Date(t).toISOString());

export default class StreamStatusCommand extends BaseCommand<typeof StreamStatusCommand> {
  static override summary = "Show the speed layer's watermarks, lag and counters (read from Redis and Kafka).";
  static override examples = ['<%= config.bin %> stream status', '<%= config.bin %> stream status --json'];

  async run(): Promise<StreamStatus> {
    const s = await streamStatus(this.appConfig);
    this.log(`watermark ${iso(s.watermark)}  lag ${s.totalLag}  symbols ${s.symbols}  lost offsets ${s.lostOffsets}`);
    for (const g of s.gaps)
      this.log(
        `gap: ${g.topic}[${g.partition}] offsets ${g.from}..${BigInt(g.to) - 1n} (${g.lost}) lost, accepted ${g.at}`,
      );
    this.log(
      renderTable(
        [
          'partition',
          'watermark',
          'users watermark',
          'lag',
          'on time',
          'late',
          'too late',
          'user events',
          'rejected',
          'invalid',
        ],
        s.partitions.map((p) => [
          String(p.partition),
          iso(p.watermark),
          iso(p.usersWatermark),
          String(Object.values(p.lag).reduce((a, b) => a + b, 0)),
          String(p.counts.onTime ?? 0),
          String(p.counts.late ?? 0),
          String(p.counts.tooLate ?? 0),
          String(p.counts.userEvents ?? 0),
          String(p.counts.rejected ?? 0),
          String(p.counts.invalid ?? 0),
        ]),
      ),
    );
    return s;
  }
}
