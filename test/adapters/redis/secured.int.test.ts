import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis } from '../../../src/adapters/redis/client.js';
import { resolveConfig } from '../../../src/config/config.js';
import { CryptolambdaError } from '../../../src/core/errors.js';
import { runCli } from '../../support/cli.js';
import { makeCa } from '../../support/secured.js';

// A throw-away redis-server of our own beside this checkout's stack: an ACL user, a default-user
// password, and a TLS port (Debian's redis-server is built with TLS) signed by a CA made here.
const redisPort = Number(new URL(process.env.CRYPTOLAMBDA_REDIS_URL ?? 'redis://127.0.0.1:16379').port);
const plainPort = redisPort + 11;
const tlsPort = redisPort + 12;
const ACL_PASS = 'app-acl-Secret-1';
const DEFAULT_PASS = 'default-Secret-2';
let child: ChildProcess;
let dir: string;
let ca: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'cl-redis-sec-'));
  const certs = makeCa(path.join(dir, 'certs'));
  ca = certs.ca;
  child = spawn(
    'redis-server',
    [
      '--port',
      String(plainPort),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--requirepass',
      DEFAULT_PASS,
      '--user',
      'app',
      'on',
      `>${ACL_PASS}`,
      '~*',
      '&*',
      '+@all',
      '--tls-port',
      String(tlsPort),
      '--tls-cert-file',
      certs.cert,
      '--tls-key-file',
      certs.key,
      '--tls-ca-cert-file',
      certs.ca,
      '--tls-auth-clients',
      'no',
    ],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 50; i++) {
    try {
      const r = await connectRedis(resolveConfig({ redisUrl: `redis://app:${ACL_PASS}@127.0.0.1:${plainPort}/0` }, {}));
      r.disconnect();
      return;
    } catch {
      await new Promise((res) => setTimeout(res, 100));
    }
  }
  throw new Error('secured redis-server did not start');
});

afterAll(() => {
  child?.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

const ping = async (url: string, tlsCa = ''): Promise<string> => {
  const r = await connectRedis(resolveConfig({ redisUrl: url, redisTlsCa: tlsCa }, {}));
  try {
    await r.set('secured:k', 'v');
    return `${await r.acl('WHOAMI')}:${await r.get('secured:k')}`;
  } finally {
    r.disconnect();
  }
};

describe('Redis with an ACL user, a password and TLS', () => {
  it('authenticates an ACL user and the default user from the URL', async () => {
    expect(await ping(`redis://app:${ACL_PASS}@127.0.0.1:${plainPort}/0`)).toBe('app:v');
    expect(await ping(`redis://:${DEFAULT_PASS}@127.0.0.1:${plainPort}/0`)).toBe('default:v');
  });

  it('speaks rediss:// with the CA from CRYPTOLAMBDA_REDIS_TLS_CA, and refuses an untrusted server', async () => {
    expect(await ping(`rediss://app:${ACL_PASS}@127.0.0.1:${tlsPort}/0`, ca)).toBe('app:v');
    await expect(ping(`rediss://app:${ACL_PASS}@127.0.0.1:${tlsPort}/0`)).rejects.toThrow(/cannot reach Redis/);
  });

  it('a wrong password is refused in one line that never shows it', async () => {
    const wrong = 'wrong-Pa55-word';
    const err = await ping(`redis://app:${wrong}@127.0.0.1:${plainPort}/0`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CryptolambdaError);
    expect((err as Error).message).toBe(
      `cannot reach Redis at redis://app:***@127.0.0.1:${plainPort}/0: the user or password was refused`,
    );
    const cli = await runCli(['stream', 'status', '--debug'], {
      CRYPTOLAMBDA_REDIS_URL: `redis://app:${wrong}@127.0.0.1:${plainPort}/0`,
    });
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toContain('redis://app:***@');
    expect(cli.stdout + cli.stderr).not.toContain(wrong);
  });
});
