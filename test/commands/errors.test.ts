import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

// These run the built CLI as a subprocess but need no stack: they prove the error contract.
describe('CLI errors: one clear line, a meaningful exit code, no stack trace unless --debug', () => {
  it('an unknown flag exits 2 with the flag named', async () => {
    const r = await runCli(['stack', 'status', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('Error: Nonexistent flag: --bogus\nHint: see --help\n');
  });

  it('a bad flag value exits 2 and says what was expected', async () => {
    const r = await runCli(['stack', 'check', '--count', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'Error: Parsing --count: Expected an integer greater than or equal to 1 but received: 0\nHint: see --help\n',
    );
  });

  it('an invalid environment value exits 2 naming the variable', async () => {
    const r = await runCli(['stack', 'status'], { CRYPTOLAMBDA_REDIS_URL: 'localhost:6379' });
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(
      'Error: CRYPTOLAMBDA_REDIS_URL: expected redis://host:port[/db] (or a comma-separated list of cluster nodes) (got "localhost:6379")',
    );
  });

  it('an unreachable broker exits 3 with one line and a hint, no stack trace', async () => {
    const r = await runCli(['stack', 'check', '--kafka-brokers', '127.0.0.1:1']);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(
      'Error: cannot reach Kafka at 127.0.0.1:1\nHint: start the local stack with `cryptolambda stack up`, or set CRYPTOLAMBDA_KAFKA_BROKERS\n',
    );
  });

  it('--debug adds the stack trace', async () => {
    const r = await runCli(['stack', 'check', '--kafka-brokers', '127.0.0.1:1', '--debug']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('Error: cannot reach Kafka at 127.0.0.1:1\n');
    expect(r.stderr).toMatch(/\n\s+at /);
  });

  it('--json errors are JSON on stdout with the code', async () => {
    const r = await runCli(['stack', 'check', '--kafka-brokers', '127.0.0.1:1', '--json']);
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout)).toEqual({
      error: {
        code: 'BROKER_UNREACHABLE',
        message: 'cannot reach Kafka at 127.0.0.1:1',
        hint: 'start the local stack with `cryptolambda stack up`, or set CRYPTOLAMBDA_KAFKA_BROKERS',
      },
    });
  });

  it('--help lists the commands', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('stack');
    const stack = await runCli(['stack', '--help']);
    for (const c of ['stack check', 'stack down', 'stack status', 'stack up']) expect(stack.stdout).toContain(c);
  });
});
