import { CryptolambdaError } from '../errors.js';
import { DAY_MS, dayOf } from '../time/date.js';
import { type BuildRef, carryForwardValid, type RawFileRef } from '../warehouse/pending.js';

/**
 * Planning of `stream --bootstrap-from-batch` (rebuilding the speed layer from the batch once Kafka
 * has expired the old records), pure: which build seeds the users, from which offset each
 * topic-partition resumes, and which raw-zone dates are replayed on top of the snapshot.
 *
 * The rules:
 * - The seed is `snapshot_user_state` of D (the latest published build unless one is named): every
 *   user's complete core state after D. A build that is stale (a raw file dated on or before D was
 *   published after it: its snapshot misses late events) is refused with the rebuild to run.
 * - Each topic-partition resumes at the raw-zone manifest's next offset: everything before it is in
 *   the raw zone. User events of the raw zone dated after D (ingested, not in the snapshot) are
 *   replayed from the raw zone; so are the prices of the candle history span, in offset order, so
 *   candles and last prices come out as the live stream made them. Kafka supplies the rest.
 * - A topic-partition the manifest has no offset for was never ingested: that is safe only while
 *   Kafka still holds it from offset 0 (nothing was lost); otherwise refused. A manifest offset below
 *   the log start is a gap (records neither in the raw zone nor in Kafka): refused as DATA_GAP
 *   unless the operator accepts it (`--accept-gap`; the stream records it when it resumes).
 */
export interface BootstrapTopics {
  readonly prices: string;
  readonly transactions: string;
  readonly rewards: string;
}

export interface LogRange {
  /** First offset still in the log (after retention / deleted records). */
  readonly low: bigint;
  readonly high: bigint;
}

export interface BootstrapInput {
  /** `--date D`, already validated; undefined = the latest published build. */
  readonly date?: string;
  readonly builds: readonly BuildRef[];
  /** Raw-zone files (dt and the manifest commit that published them). */
  readonly files: readonly RawFileRef[];
  readonly manifestCommit: number;
  /** Manifest offsets: physical topic → partition → next offset to ingest. */
  readonly offsets: Readonly<Record<string, Readonly<Record<string, string>>>>;
  readonly topics: BootstrapTopics;
  /** Kafka's log range per physical topic and partition. */
  readonly logs: ReadonlyMap<string, ReadonlyMap<number, LogRange>>;
  /** Partitions of the speed layer (the three input topics share the count). */
  readonly partitions: number;
  readonly acceptGap?: boolean;
}

export interface TopicResume {
  readonly topic: string;
  readonly partition: number;
  /** Next offset the stream processes. */
  readonly offset: bigint;
  /** Where the offset came from: the manifest, or the log start of a partition never ingested. */
  readonly source: 'manifest' | 'log-start';
  /** Offsets [offset, low) gone from Kafka and absent from the raw zone (accepted gap), if any. */
  readonly lost: bigint;
}

export interface BootstrapPlan {
  /** The build whose snapshot seeds every user. */
  readonly date: string;
  readonly buildRawCommit: number;
  readonly manifestCommit: number;
  /** Raw-zone user events dated after `date` are replayed (dt > date). */
  readonly replayUsersAfter: string;
  /** Per speed-layer partition n, the resume offset of each input topic's partition n. */
  readonly resume: ReadonlyMap<number, readonly TopicResume[]>;
}

/** The build that seeds the users (the latest unless named); refuses none, an unknown date and a stale build. */
export const chooseBuild = (input: Pick<BootstrapInput, 'date' | 'builds' | 'files'>): BuildRef => {
  const dates = input.builds.map((b) => b.date).sort();
  if (dates.length === 0)
    throw new CryptolambdaError(
      'NOT_FOUND',
      'no warehouse build to bootstrap the speed layer from',
      'build a date first (`cryptolambda batch --date D`), or rebuild from the logs with `stream --from-beginning`',
    );
  const date = input.date ?? dates.at(-1)!;
  const build = input.builds.find((b) => b.date === date);
  if (build === undefined)
    throw new CryptolambdaError(
      'NOT_FOUND',
      `the batch has not built ${date}`,
      `built dates: ${dates.length > 6 ? `${dates.slice(0, 3).join(', ')} … ${dates.slice(-3).join(', ')}` : dates.join(', ')}`,
    );
  if (!carryForwardValid(input.files, build))
    throw new CryptolambdaError(
      'CONFLICT',
      `the build of ${date} is stale: raw data dated on or before it was ingested after it, so its snapshot misses events`,
      `rebuild it first (\`cryptolambda batch --date ${date}\`, or \`pipeline run --date ${date}\`), then bootstrap`,
      { retriable: false },
    );
  return build;
};

const resumeOf = (input: BootstrapInput, topic: string, n: number): TopicResume => {
  const log = input.logs.get(topic)?.get(n);
  if (log === undefined)
    throw new CryptolambdaError('NOT_FOUND', `${topic} has no partition ${n} in Kafka`, 'run `cryptolambda stack up`');
  const stored = input.offsets[topic]?.[String(n)];
  if (stored === undefined) {
    // Never ingested: only Kafka has its records, and it still must have all of them.
    if (log.low === 0n) return { topic, partition: n, offset: 0n, source: 'log-start', lost: 0n };
    throw new CryptolambdaError(
      'NO_DATA',
      `the raw-zone manifest has no offset for ${topic}[${n}] and Kafka's log of it starts at ${log.low}: records 0..${log.low - 1n} are in neither`,
      'bootstrap needs every partition covered by the raw zone or still whole in Kafka; rebuild from what remains with `stream --from-beginning --accept-gap`',
    );
  }
  const offset = BigInt(stored);
  if (offset > log.high)
    throw new CryptolambdaError(
      'CONFLICT',
      `the raw-zone manifest has ${topic}[${n}] at offset ${offset}, past the end of Kafka's log (${log.high}): the topic was recreated, or the lake belongs to another cluster`,
      'after recreating topics set the manifest offsets of those topics to 0 (docs/runbook.md, "Repartitioning"), then bootstrap',
      { retriable: false },
    );
  if (offset >= log.low) return { topic, partition: n, offset, source: 'manifest', lost: 0n };
  const lost = log.low - offset;
  if (!input.acceptGap)
    throw new CryptolambdaError(
      'DATA_GAP',
      `${topic}[${n}]: offsets ${offset}..${log.low - 1n} (${lost}) are in neither the raw zone nor Kafka`,
      'rerun with --accept-gap to record the loss and continue (docs/runbook.md, "Gaps")',
    );
  return { topic, partition: n, offset, source: 'manifest', lost };
};

export const planBootstrap = (input: BootstrapInput): BootstrapPlan => {
  const build = chooseBuild(input);
  const resume = new Map<number, TopicResume[]>();
  const t = input.topics;
  for (let n = 0; n < input.partitions; n++)
    resume.set(
      n,
      [t.prices, t.transactions, t.rewards].map((topic) => resumeOf(input, topic, n)),
    );
  return {
    date: build.date,
    buildRawCommit: build.rawCommit,
    manifestCommit: input.manifestCommit,
    replayUsersAfter: build.date,
    resume,
  };
};

/**
 * First raw-zone price date to replay: the one holding `latest` minus the longest candle history the
 * speed layer keeps (older candles would be trimmed on write anyway), plus a day for windows still open
 * across midnight.
 */
export const priceReplayFrom = (latestPriceTime: number, historySpanMs: number): string =>
  dayOf(latestPriceTime - historySpanMs - DAY_MS);
