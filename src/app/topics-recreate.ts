import { ensureTopics, retryRetriable, withAdmin } from '../adapters/kafka/client.js';
import { commitManifest, readManifest, type TopicRecreation } from '../adapters/lake/manifest.js';
import type { Config } from '../config/config.js';
import { CryptolambdaError } from '../core/errors.js';
import { TOPICS, type TopicKey, topicName } from '../core/topics.js';
import { ingestLockPath, withLakeLock } from './batch/lake-lock.js';
import { assertNoStreamWorkers } from './stream/run-stream.js';

/** The topics the speed layer shards by partition: recreated together, with the contract's count. */
const USER_TOPICS: readonly TopicKey[] = ['prices', 'transactions', 'rewards'];

export interface RecreatedTopic {
  readonly topic: string;
  readonly previousPartitions: number;
  readonly partitions: number;
  /** Records the old topic retained (all of them in the raw zone). */
  readonly records: number;
}

export interface RecreateResult {
  readonly topics: RecreatedTopic[];
  /** The manifest commit that starts the new topics at offset 0. */
  readonly manifestCommit: number;
  /** True when only checked (no --yes): nothing was deleted. */
  readonly dryRun: boolean;
}

/**
 * `topics recreate`: the Kafka half of the repartition procedure (docs/runbook.md,
 * "Repartitioning"). Deletes raw.prices, raw.transactions and raw.rewards and creates them again
 * with the contract's partition count (src/core/topics.ts), then starts the raw-zone manifest's
 * offsets for them at 0, so `ingest` reads the new topics from their start and
 * `stream --bootstrap-from-batch` resumes there. Refuses, with nothing deleted, while a stream
 * worker runs or while any partition holds a record the raw zone lacks (run `ingest` first): the
 * raw zone is then the only copy of the old topics, and the warehouse reads it whatever the
 * partitioning. Holds the ingest lock, so no ingest runs meanwhile. Order: delete and create
 * first, then the manifest commit; a crash between the two leaves manifest offsets past the new
 * logs' end, which `ingest` refuses until this command is run again (it then finds the new,
 * still-empty topics drained and commits the reset).
 */
export const recreateTopics = (config: Config, opts: { yes: boolean }): Promise<RecreateResult> =>
  withLakeLock(ingestLockPath(config.lakeDir), 'ingest', 'topics recreate', async () => {
    await assertNoStreamWorkers(config, 'recreating the topics');
    const names = USER_TOPICS.map((k) => topicName(config.topicPrefix, k));
    const manifest = await readManifest(config.lakeDir);
    const logs = await withAdmin(config, async (admin) => {
      const listed = new Set(await retryRetriable(() => admin.listTopics()));
      const out: { topic: string; partition: number; low: bigint; high: bigint; next: bigint }[] = [];
      for (const t of names.filter((n) => listed.has(n)))
        for (const o of await retryRetriable(() => admin.fetchTopicOffsets(t))) {
          const low = BigInt(o.low);
          const stored = manifest.offsets[t]?.[String(o.partition)];
          out.push({
            topic: t,
            partition: o.partition,
            low,
            high: BigInt(o.high),
            next: stored === undefined ? low : BigInt(stored),
          });
        }
      return out;
    });
    const present = [...new Set(logs.map((l) => l.topic))];
    // Drained: every partition's records are below the manifest's next offset (a stored offset past
    // the end is a topic recreated before, already empty of what the manifest covers).
    const missing = logs.filter((l) => l.high > (l.next > l.low ? l.next : l.low));
    if (missing.length > 0)
      throw new CryptolambdaError(
        'CONFLICT',
        `the raw zone lacks records the topics hold: ${missing
          .slice(0, 6)
          .map((l) => {
            const from = l.next > l.low ? l.next : l.low;
            return `${l.topic}[${l.partition}] ${l.high - from} (offsets ${from}..${l.high - 1n})`;
          })
          .join(', ')}${missing.length > 6 ? ` and ${missing.length - 6} more partition(s)` : ''}`,
        'stop the producers, run `cryptolambda ingest` until it reads nothing, then run this again: deleting the topics would lose those records',
        { retriable: false },
      );
    const topics: RecreatedTopic[] = USER_TOPICS.map((k) => {
      const name = topicName(config.topicPrefix, k);
      const own = logs.filter((l) => l.topic === name);
      return {
        topic: name,
        previousPartitions: own.length,
        partitions: TOPICS[k].partitions,
        records: own.reduce((a, l) => a + Number(l.high - l.low), 0),
      };
    });
    if (!opts.yes) return { topics, manifestCommit: manifest.commit, dryRun: true };

    await withAdmin(config, async (admin) => {
      if (present.length > 0) await retryRetriable(() => admin.deleteTopics({ topics: present, timeout: 30_000 }));
      // Deletion is asynchronous in Kafka: creating a name still being deleted fails with
      // TOPIC_ALREADY_EXISTS for a moment. Retry until the new topics exist with the contract's count.
      const specs = USER_TOPICS.map((k) => TOPICS[k]);
      const deadline = Date.now() + 60_000;
      for (;;) {
        try {
          const listed = new Set(await admin.listTopics());
          if (present.some((t) => listed.has(t))) throw new Error('still being deleted');
          await ensureTopics(admin, config.topicPrefix, specs);
          break;
        } catch (err) {
          if (Date.now() > deadline)
            throw new CryptolambdaError(
              'BROKER_UNREACHABLE',
              `the topics were deleted but could not be created again within 60 s: ${(err as Error).message}`,
              'run `cryptolambda topics recreate --yes` again: it creates what is missing and resets the offsets',
              { cause: err },
            );
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    });
    const commit = manifest.commit + 1;
    const at = new Date().toISOString();
    const offsets: Record<string, Record<string, string>> = {};
    for (const [t, parts] of Object.entries(manifest.offsets)) if (!names.includes(t)) offsets[t] = { ...parts };
    const recreated: TopicRecreation[] = [];
    for (const [i, k] of USER_TOPICS.entries()) {
      const name = names[i]!;
      offsets[name] = Object.fromEntries(Array.from({ length: TOPICS[k].partitions }, (_, p) => [String(p), '0']));
      recreated.push({
        topic: name,
        partitions: TOPICS[k].partitions,
        previousPartitions: topics[i]!.previousPartitions,
        previousOffsets: { ...(manifest.offsets[name] ?? {}) },
        commit,
        at,
      });
    }
    // The new topics' partitions start without event-time marks (core/time/lateness.ts): the old
    // partition p's mark says nothing about the users new partition p holds. Ingest and a bootstrapped
    // stream both continue from the manifest, so both layers start the new logs alike.
    const hwm = Object.fromEntries(Object.entries(manifest.hwm ?? {}).filter(([t]) => !names.includes(t)));
    const { hwm: _old, ...rest } = manifest;
    await commitManifest(config.lakeDir, {
      ...rest,
      ...(Object.keys(hwm).length > 0 ? { hwm } : {}),
      commit,
      offsets,
      updatedAt: at,
      recreated: [...(manifest.recreated ?? []), ...recreated],
    });
    return { topics, manifestCommit: commit, dryRun: false };
  });
