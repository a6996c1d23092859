import { describe, expect, it } from 'vitest';
import { coPartitionAssignment } from '../../../src/adapters/kafka/co-partition-assigner.js';

describe('coPartitionAssignment', () => {
  const topics = { 'raw.transactions': [0, 1, 2, 3, 4, 5], 'raw.rewards': [0, 1, 2, 3, 4, 5], 'raw.prices': [0, 1, 2] };

  it('gives partition N of every topic to the same member', () => {
    const a = coPartitionAssignment(['m-b', 'm-a'], topics);
    expect(Object.fromEntries(a)).toEqual({
      'm-a': { 'raw.transactions': [0, 2, 4], 'raw.rewards': [0, 2, 4], 'raw.prices': [0, 2] },
      'm-b': { 'raw.transactions': [1, 3, 5], 'raw.rewards': [1, 3, 5], 'raw.prices': [1] },
    });
  });

  it('is a pure function of the member set (order of arrival does not matter)', () => {
    expect(Object.fromEntries(coPartitionAssignment(['x', 'y', 'z'], topics))).toEqual(
      Object.fromEntries(coPartitionAssignment(['z', 'x', 'y'], topics)),
    );
  });

  it('a single member gets everything; extra members beyond partitions get nothing', () => {
    expect(coPartitionAssignment(['solo'], { t: [0, 1] }).get('solo')).toEqual({ t: [0, 1] });
    const many = coPartitionAssignment(['a', 'b', 'c'], { t: [0, 1] });
    expect(many.get('c')).toEqual({});
  });
});
