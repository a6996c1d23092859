import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { CryptolambdaError } from '../core/errors.js';
import { registerSecret } from '../core/redact.js';

/**
 * The local stack is secure by default: `stack up` starts Redis with the default user disabled and
 * one ACL user whose password is generated once and stored, mode 0600, in the state dir. Every
 * command resolving a config for that Redis (same host:port, no credentials in the URL) picks the
 * user and password up from there, so nothing has to be exported and nothing is typed on a
 * command line. An explicit URL with credentials always wins (a managed Redis).
 */
export const REDIS_ACL_USER = 'cryptolambda';

const StackCredentials = z.object({
  redis: z.object({ host: z.string(), port: z.number().int(), user: z.string(), password: z.string().min(16) }),
});
export type StackCredentials = z.infer<typeof StackCredentials>;

export const credentialsPath = (stateDir: string): string => path.join(stateDir, 'credentials', 'stack.json');

export const readStackCredentials = (stateDir: string): StackCredentials | undefined => {
  const file = credentialsPath(stateDir);
  if (!existsSync(file)) return undefined;
  const parsed = StackCredentials.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) {
    throw new CryptolambdaError(
      'INVALID_CONFIG',
      `${file}: not a valid credentials file`,
      'remove it and restart the stack (`stack down`, `stack up`) to generate new credentials',
    );
  }
  registerSecret(parsed.data.redis.password);
  return parsed.data;
};

/** The stored credentials for this Redis address, or new ones (written 0600 under a 0700 dir). */
export const ensureStackCredentials = (stateDir: string, host: string, port: number): StackCredentials => {
  const have = readStackCredentials(stateDir);
  if (have && have.redis.host === host && have.redis.port === port) return have;
  const creds: StackCredentials = {
    redis: { host, port, user: REDIS_ACL_USER, password: randomBytes(24).toString('base64url') },
  };
  const file = credentialsPath(stateDir);
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  chmodSync(path.dirname(file), 0o700);
  writeFileSync(file, `${JSON.stringify(creds, null, 1)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  registerSecret(creds.redis.password);
  return creds;
};

/** redisUrl with the stack's ACL user and password when it points at the stack's Redis without credentials. */
export const withStackRedisCredentials = (redisUrl: string, stateDir: string): string => {
  let u: URL;
  try {
    u = new URL(redisUrl);
  } catch {
    return redisUrl;
  }
  if (u.username || u.password) {
    if (u.password) registerSecret(decodeURIComponent(u.password));
    return redisUrl;
  }
  const creds = readStackCredentials(stateDir);
  if (creds === undefined) return redisUrl;
  if (creds.redis.host !== u.hostname || creds.redis.port !== Number(u.port || 6379)) return redisUrl;
  u.username = encodeURIComponent(creds.redis.user);
  u.password = encodeURIComponent(creds.redis.password);
  return u.toString();
};
