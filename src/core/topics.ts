/**
 * The Kafka topics cryptolambda owns, with their partition counts and keys. Partition counts are
 * explicit (never broker defaults) because the speed layer's state is sharded by partition:
 * changing them re-keys users and symbols, so treat them as part of the contract (docs/contracts.md).
 */
export interface TopicSpec {
  /** Logical name; the physical name is `${prefix}${name}`. */
  readonly name: string;
  readonly partitions: number;
  readonly key: string;
  readonly description: string;
  readonly config?: Readonly<Record<string, string>>;
}

const WEEK_MS = String(7 * 24 * 3600 * 1000);

export const TOPICS = {
  prices: {
    name: 'raw.prices',
    partitions: 6,
    key: 'symbol',
    description: 'Trade prints from Binance, file replay or the synthetic generator (Avro PriceEvent).',
    config: { 'retention.ms': WEEK_MS },
  },
  transactions: {
    name: 'raw.transactions',
    partitions: 6,
    key: 'userId',
    description: "Users' buys, sells, deposits, withdrawals, staking and card spend (Avro TransactionEvent).",
    config: { 'retention.ms': WEEK_MS },
  },
  rewards: {
    name: 'raw.rewards',
    partitions: 6,
    key: 'userId',
    description: 'Cashback and staking rewards credited to users (Avro RewardEvent).',
    config: { 'retention.ms': WEEK_MS },
  },
  deadLetter: {
    name: 'dlq',
    partitions: 1,
    key: 'source',
    description: 'Malformed input with the reason it was rejected (Avro DeadLetter envelope).',
    config: { 'retention.ms': String(30 * 24 * 3600 * 1000) },
  },
  latePrices: {
    name: 'late.prices',
    partitions: 3,
    key: 'symbol',
    description: 'Price events that arrived after their window closed plus allowed lateness.',
  },
  tierChanges: {
    name: 'tier.changes',
    partitions: 3,
    key: 'userId',
    description: 'Reward-tier transitions emitted by the speed layer.',
  },
} as const satisfies Record<string, TopicSpec>;

export type TopicKey = keyof typeof TOPICS;

export const ALL_TOPICS: readonly TopicSpec[] = Object.values(TOPICS);

export const topicName = (prefix: string, key: TopicKey): string => `${prefix}${TOPICS[key].name}`;
