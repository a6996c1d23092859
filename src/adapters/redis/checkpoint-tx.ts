import type { RedisConn } from './client.js';

export type { RedisConn };
type Arg = string | number;

/**
 * The writes of one partition's checkpoint, recorded (not sent) so they can be committed as ONE
 * fenced atomic unit: every key carries the partition's hash tag, so on a Redis Cluster they all
 * live in one slot. Writers (the speed store, the runtime's offsets and outbox) only append here;
 * they never see a connection.
 */
export class CheckpointTx {
  readonly keys: string[] = [];
  readonly argv: string[] = [];
  commands = 0;

  /** One single-key command; long argument lists (HSET fields, RPUSH) are split below Lua's unpack limit. */
  add(cmd: string, key: string, ...args: Arg[]): void {
    this.keys.push(key);
    this.argv.push(String(args.length), cmd);
    for (const a of args) this.argv.push(String(a));
    this.commands++;
  }

  /**
   * HSET key field value ... in chunks, appended straight into argv: a checkpoint records thousands
   * of these, and building a per-command argument array (then spreading it) was a measurable share
   * of its garbage (bench/speed-users-core.ts).
   */
  hset(key: string, fields: Iterable<readonly [string, string]>): void {
    let at = -1;
    let n = 0;
    for (const [f, v] of fields) {
      if (at < 0) at = this.open('HSET', key);
      this.argv.push(f, v);
      n += 2;
      if (n >= CHUNK) {
        this.argv[at] = String(n);
        at = -1;
        n = 0;
      }
    }
    if (at >= 0) this.argv[at] = String(n);
  }

  /** A command taking a list of members (SADD, RPUSH, HDEL) in chunks. */
  list(cmd: 'SADD' | 'RPUSH' | 'HDEL', key: string, members: readonly string[]): void {
    for (let i = 0; i < members.length; i += CHUNK) {
      const end = Math.min(members.length, i + CHUNK);
      const at = this.open(cmd, key);
      for (let j = i; j < end; j++) this.argv.push(members[j]!);
      this.argv[at] = String(end - i);
    }
  }

  /** Start a command whose argument count is patched in at the returned argv index. */
  private open(cmd: string, key: string): number {
    this.keys.push(key);
    const at = this.argv.length;
    this.argv.push('', cmd);
    this.commands++;
    return at;
  }

  get empty(): boolean {
    return this.commands === 0;
  }
}

/** Arguments per command: Redis's Lua refuses to unpack more than ~8000 values at once. */
const CHUNK = 2000;

/**
 * Compare-and-commit in one script: when the fencing epoch still equals ours, run every recorded
 * command; otherwise change nothing and return 0. A Lua script is atomic like MULTI/EXEC (no other
 * client's command runs in between) and, unlike WATCH + MULTI, needs no connection state, so it works
 * unchanged on a Redis Cluster: every key it touches carries the partition's hash tag (one slot).
 */
const FENCED_COMMIT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local a = 2
local k = 2
local n = #ARGV
while a <= n do
  local c = tonumber(ARGV[a])
  redis.call(ARGV[a + 1], KEYS[k], unpack(ARGV, a + 2, a + 1 + c))
  a = a + 2 + c
  k = k + 1
end
return 1
`;

interface FencedConn {
  /** ioredis flattens array arguments; never spread a big checkpoint into a call (stack limit). */
  clFencedCommit(numKeys: number, keys: string[], argv: string[]): Promise<number>;
}

const defined = new WeakSet<object>();

/** Commit tx iff epochKey still holds epoch. Returns false when fenced (another worker owns the partition). */
export const commitFenced = async (
  redis: RedisConn,
  epochKey: string,
  epoch: number,
  tx: CheckpointTx,
): Promise<boolean> => {
  if (!defined.has(redis)) {
    redis.defineCommand('clFencedCommit', { lua: FENCED_COMMIT });
    defined.add(redis);
  }
  const conn = redis as unknown as FencedConn;
  const r = await conn.clFencedCommit(1 + tx.keys.length, [epochKey].concat(tx.keys), [String(epoch)].concat(tx.argv));
  return r === 1;
};
