import type { ShardBuild } from '../../adapters/lake/shard-store.js';
import type { IngestProgress } from '../ingest.js';
import type { IngestRawResult } from './ingest-raw.js';
import type { BatchResult } from './run-batch.js';

/**
 * Human text for `ingest` and `batch` (stderr progress, stdout summaries). A terminal gets a bar
 * redrawn in place; pipes and logs get plain lines. No colour codes: the bar is ASCII, so NO_COLOR
 * and dumb terminals need nothing special.
 */
const WIDTH = 24;

export const bar = (done: number, total: number): string => {
  const frac = total > 0 ? Math.min(1, done / total) : 1;
  const n = Math.round(frac * WIDTH);
  return `[${'#'.repeat(n)}${'.'.repeat(WIDTH - n)}] ${String(Math.floor(frac * 100)).padStart(3)}%`;
};

const n = (x: number): string => x.toLocaleString('en-US');
const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

export const formatIngestProgress = (p: IngestProgress, tty: boolean): string =>
  `ingest${tty ? ` ${bar(p.records, p.total)}` : ''} ${n(p.records)}/${n(p.total)} records, ${n(p.rejected)} rejected, ${n(p.files)} files, ${mb(p.bytes)}`;

export const formatIngestSummary = (r: IngestRawResult): string[] => {
  const rows = r.files.reduce((s, f) => s + f.rows, 0);
  const lines = [
    `ingested ${n(r.records)} records: ${n(rows)} rows in ${n(r.files.length)} files, ${n(r.deadLetters)} to the dead-letter topic (manifest commit ${r.manifestCommit})`,
  ];
  if (r.dates.length > 0) lines.push(`dates: ${r.dates.join(', ')}`);
  if (r.lateDates.length > 0) lines.push(`late data for already built dates (rebuild them): ${r.lateDates.join(', ')}`);
  for (const g of r.gaps)
    lines.push(
      `gap accepted: ${g.topic}[${g.partition}] offsets ${g.from}..${BigInt(g.to) - 1n} (${n(g.lost)}) were gone from Kafka; recorded in the manifest`,
    );
  if (r.orphansRemoved > 0) lines.push(`removed ${n(r.orphansRemoved)} unpublished files of an interrupted run`);
  if (r.compaction)
    lines.push(
      `compacted ${n(r.compaction.partitions)} partitions: ${n(r.compaction.filesBefore)} → ${n(r.compaction.filesAfter)} files`,
    );
  return lines;
};

export const formatBatchSummary = (r: BatchResult): string => {
  const facts = ['fact_portfolio_daily', 'fact_reward_daily', 'fact_price_daily', 'fact_asset_correlation']
    .map((t) => `${t} ${n(r.rows[t] ?? 0)}`)
    .join(', ');
  const how = r.fromHistory ? 'from history' : 'from the previous snapshot';
  return `${r.date}: ${n(r.users)} users (${n(r.activeUsers)} active), ${n(r.events)} events, ${n(r.rejects)} rejects; ${facts}; ${how}${r.empty ? ', no raw data (--allow-empty)' : ''}; raw commit ${r.rawCommit}; ${n(r.shards)} shard${r.shards === 1 ? '' : 's'}; ${r.seconds.toFixed(1)} s`;
};

export const formatShardSummary = (b: ShardBuild): string => {
  const rows = b.files.map((f) => `${f.table} ${n(f.rows)}`).join(', ');
  return `${b.date} shard ${b.shard.index}/${b.shard.of}: ${n(b.stats.users)} users (${n(b.stats.activeUsers)} active), ${n(b.stats.events)} events; ${rows}; raw commit ${b.rawCommit}; not published (run \`batch publish --date ${b.date}\` once every shard is built)`;
};

export const formatBackfillProgress = (done: number, total: number, date: string, tty: boolean): string =>
  `batch${tty ? ` ${bar(done, total)}` : ''} ${done}/${total} dates${date ? ` (${date})` : ''}`;
