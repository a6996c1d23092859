import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

/**
 * Assigns partition N of every subscribed topic to the same member. raw.transactions and
 * raw.rewards are both keyed by user id with the same partition count and partitioner, so one
 * user's transactions and rewards meet in one worker; the default round-robin assigner would
 * split them across workers and make per-user state inconsistent.
 *
 * Partition numbers are dealt round-robin over the sorted member ids, so the assignment is a pure
 * function of (members, partition counts): every member computes the same answer.
 */
export const CO_PARTITION_ASSIGNER_NAME = 'CryptolambdaCoPartition';

export const coPartitionAssignment = (
  memberIds: readonly string[],
  partitionsByTopic: Readonly<Record<string, readonly number[]>>,
): Map<string, Record<string, number[]>> => {
  const members = [...memberIds].sort();
  const numbers = [...new Set(Object.values(partitionsByTopic).flat())].sort((a, b) => a - b);
  const owner = new Map(numbers.map((n, i) => [n, members[i % members.length]!]));
  const out = new Map<string, Record<string, number[]>>(members.map((m) => [m, {}]));
  for (const [topic, partitions] of Object.entries(partitionsByTopic)) {
    for (const p of [...partitions].sort((a, b) => a - b)) {
      const m = out.get(owner.get(p)!)!;
      const list = m[topic] ?? [];
      list.push(p);
      m[topic] = list;
    }
  }
  return out;
};

export const CoPartitionAssigner: PartitionAssigner = ({ cluster }) => ({
  name: CO_PARTITION_ASSIGNER_NAME,
  version: 1,
  async assign({ members, topics }) {
    const partitionsByTopic: Record<string, number[]> = {};
    for (const topic of topics) {
      partitionsByTopic[topic] = cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId);
    }
    const assignment = coPartitionAssignment(
      members.map((m) => m.memberId),
      partitionsByTopic,
    );
    return [...assignment].map(([memberId, a]) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({
        version: 1,
        assignment: a,
        userData: Buffer.alloc(0),
      }),
    }));
  },
  protocol({ topics }) {
    return {
      name: CO_PARTITION_ASSIGNER_NAME,
      metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }),
    };
  },
});
