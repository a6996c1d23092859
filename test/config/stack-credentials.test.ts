import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/config.js';
import { credentialsPath, ensureStackCredentials } from '../../src/config/stack-credentials.js';
import { maskSecrets } from '../../src/core/redact.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('the local stack credentials', () => {
  it('are generated once, stored 0600 under a 0700 dir, and picked up by every resolved config', () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), 'cl-creds-'));
    dirs.push(stateDir);
    const env = { CRYPTOLAMBDA_STATE_DIR: stateDir, CRYPTOLAMBDA_REDIS_URL: 'redis://127.0.0.1:26379/0' };
    expect(resolveConfig({}, env).redisUrl).toBe('redis://127.0.0.1:26379/0');
    const c = ensureStackCredentials(stateDir, '127.0.0.1', 26379);
    expect(c.redis.user).toBe('cryptolambda');
    expect(c.redis.password.length).toBeGreaterThanOrEqual(32);
    expect(ensureStackCredentials(stateDir, '127.0.0.1', 26379)).toEqual(c);
    expect(statSync(credentialsPath(stateDir)).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(credentialsPath(stateDir))).mode & 0o777).toBe(0o700);

    const url = resolveConfig({}, env).redisUrl;
    expect(url).toBe(`redis://cryptolambda:${c.redis.password}@127.0.0.1:26379/0`);
    // ... and never shown: the registered password is masked anywhere, in or out of a URL.
    expect(maskSecrets(`at ${url}; pw ${c.redis.password}`)).toBe(
      'at redis://cryptolambda:***@127.0.0.1:26379/0; pw ***',
    );
  });

  it('are not added to a URL with its own credentials or pointing at another Redis', () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), 'cl-creds-'));
    dirs.push(stateDir);
    ensureStackCredentials(stateDir, '127.0.0.1', 26379);
    const own = 'redis://app:theirs-password@127.0.0.1:26379/0';
    expect(resolveConfig({}, { CRYPTOLAMBDA_STATE_DIR: stateDir, CRYPTOLAMBDA_REDIS_URL: own }).redisUrl).toBe(own);
    const other = 'redis://10.0.0.5:6379/0';
    expect(resolveConfig({}, { CRYPTOLAMBDA_STATE_DIR: stateDir, CRYPTOLAMBDA_REDIS_URL: other }).redisUrl).toBe(other);
  });
});
