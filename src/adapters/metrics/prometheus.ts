import { randomUUID } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { Counter, collectDefaultMetrics, Pushgateway, Registry } from 'prom-client';
import { CryptolambdaError } from '../../core/errors.js';

/**
 * prom-client behind the project's own small surface: a registry per process, counters fed from
 * cumulative values the engine already keeps, and the three ways a process hands its metrics over
 * (scraped over HTTP, a node_exporter textfile, a Pushgateway push).
 *
 * Naming follows https://prometheus.io/docs/practices/naming/: a `cryptolambda_` namespace, base
 * units (seconds, bytes), `_total` on counters, and Kafka's/Flink's stems where one exists
 * (records_lag_max, records_consumed_total, checkpoint duration). No label ever holds a user id:
 * labels are topics, reasons from a closed set, route templates, steps.
 */
export type { Registry } from 'prom-client';

export const newRegistry = (opts: { defaults?: boolean } = {}): Registry => {
  const reg = new Registry();
  // process_* and nodejs_* (CPU, RSS, event-loop lag, GC): what an operator looks at first.
  if (opts.defaults !== false) {
    collectDefaultMetrics({ register: reg });
    // prom-client names these gauges `_total`, which the naming rules (and `promtool check metrics`)
    // reserve for counters; their information is in process_* and the event-loop metrics anyway.
    for (const n of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      reg.removeSingleMetric(n);
    }
  }
  return reg;
};

/**
 * A counter whose value is read from a cumulative source at scrape time (the runtime's record
 * count, the handler's per-reason dead letters). prom-client counters only go up by inc(), so each
 * collect adds what grew since the last one; a source that went down (a partition moved away with
 * its counts) adds nothing, the Prometheus way: rate() treats the counter as monotonic.
 */
export const counterFrom = <L extends string>(
  reg: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  read: () => Iterable<[Partial<Record<L, string>>, number]>,
): Counter<L> => {
  const last = new Map<string, number>();
  return new Counter<L>({
    name,
    help,
    labelNames,
    registers: [reg],
    collect() {
      for (const [labels, value] of read()) {
        const key = JSON.stringify(labels);
        const prev = last.get(key);
        last.set(key, value);
        const delta = prev === undefined ? value : value - prev;
        // Touch the series even at 0 so it is exported before the first event.
        this.inc(labels as Record<L, string>, delta > 0 ? delta : 0);
      }
    },
  });
};

/** Atomic write of the exposition for node_exporter's textfile collector (it must never read half a file). */
export const writeTextfile = async (reg: Registry, file: string): Promise<void> => {
  if (!file.endsWith('.prom')) {
    throw new CryptolambdaError('INVALID_ARGUMENT', `metrics textfile ${JSON.stringify(file)} must end in .prom`);
  }
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}-${randomUUID().slice(0, 8)}.tmp`;
  await writeFile(tmp, await reg.metrics());
  await rename(tmp, file);
};

/** Replace this job's group on a Pushgateway (PUT: metrics of a previous run do not linger). */
export const pushToGateway = async (reg: Registry, url: string, job: string): Promise<void> => {
  const gw = new Pushgateway(url, { timeout: 5000 }, reg);
  try {
    await gw.push({ jobName: job });
  } catch (err) {
    throw new CryptolambdaError('INTERNAL', `push to the Pushgateway ${url} failed: ${String(err)}`, undefined, {
      cause: err,
    });
  }
};

/** Where a short job hands its metrics: either, both or neither. */
export interface JobMetricsSink {
  readonly textfile?: string;
  readonly pushgateway?: string;
}

export const exportJobMetrics = async (reg: Registry, job: string, sink: JobMetricsSink): Promise<void> => {
  if (sink.textfile !== undefined) await writeTextfile(reg, sink.textfile);
  if (sink.pushgateway !== undefined) await pushToGateway(reg, sink.pushgateway, job);
};

/** A bare /metrics endpoint for a process that has no HTTP server of its own (the stream worker). */
export const serveMetrics = async (
  reg: Registry,
  host: string,
  port: number,
): Promise<{ port: number; close(): Promise<void> }> => {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    reg.metrics().then(
      (text) => res.writeHead(200, { 'content-type': reg.contentType }).end(text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(err)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(new CryptolambdaError('INVALID_ARGUMENT', `cannot listen on ${host}:${port} for metrics: ${err.message}`)),
    );
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr !== null ? addr.port : port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
};
