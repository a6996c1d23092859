import { type ChildProcess, execFile, spawn } from 'node:child_process';
import net from 'node:net';

/** A free TCP port on loopback (the shared machine runs other agents' servers: never assume one). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });

/** `promtool check metrics` on an exposition: '' when it follows the conventions. */
export const promtoolCheck = (text: string): Promise<{ code: number; out: string }> =>
  new Promise((resolve) => {
    const p = execFile('promtool', ['check', 'metrics'], (err, stdout, stderr) =>
      resolve({ code: err ? 1 : 0, out: stdout + stderr }),
    );
    p.stdin!.end(text);
  });

/** Start a long-running binary; the returned stop() kills exactly that process. */
export const startDaemon = (
  bin: string,
  args: string[],
): { proc: ChildProcess; stop(): Promise<void>; log(): string } => {
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout!.on('data', (d) => {
    log += String(d);
  });
  proc.stderr!.on('data', (d) => {
    log += String(d);
  });
  return {
    proc,
    log: () => log,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
};

export const waitFor = async <T>(fn: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> => {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
};

/** Instant query through Prometheus' HTTP API. */
export const promQuery = async (
  base: string,
  q: string,
): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
  const r = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(q)}`);
  const j = (await r.json()) as {
    status: string;
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  if (j.status !== 'success') throw new Error(`query ${q} failed: ${JSON.stringify(j)}`);
  return j.data.result;
};
