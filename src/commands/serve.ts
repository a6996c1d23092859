import { Flags } from '@oclif/core';
import { defaultDashboardDir, startServer } from '../app/serve/serve.js';
import { BaseCommand } from '../cli/base-command.js';

export interface ServeResult {
  readonly url: string;
  readonly seconds: number;
}

export default class Serve extends BaseCommand<typeof Serve> {
  static override summary = 'HTTP query API, live push (SSE), Prometheus /metrics and the web dashboard.';
  static override description =
    `Every query command as a GET route returning its --json (OpenAPI at /openapi.json), live
prices and portfolios as Server-Sent Events, /health/live and /health/ready, /metrics, and a
dashboard at /. Binds 127.0.0.1; binding anything else needs a bearer token.`;
  static override examples = [
    '<%= config.bin %> serve',
    '<%= config.bin %> serve --port 8080 --cors-origin http://localhost:3000',
    'CRYPTOLAMBDA_API_TOKEN=$(openssl rand -hex 24) <%= config.bin %> serve --host 0.0.0.0',
  ];
  static override flags = {
    host: Flags.string({ description: 'Address to bind.', default: '127.0.0.1' }),
    port: Flags.integer({ description: 'Port (0: any free port).', default: 8080, min: 0, max: 65_535 }),
    token: Flags.string({
      description: 'Bearer token required on /v1, /metrics and /openapi.json (required off loopback).',
      env: 'CRYPTOLAMBDA_API_TOKEN',
    }),
    'cors-origin': Flags.string({ description: 'Allow this origin (repeatable); default: no CORS.', multiple: true }),
    'rate-limit': Flags.integer({
      description: 'Requests per minute per client address (0: unlimited).',
      default: 6000,
      min: 0,
    }),
    'max-subscribers': Flags.integer({ description: 'Concurrent live (SSE) subscribers.', default: 2000, min: 1 }),
  };

  async run(): Promise<ServeResult> {
    const f = this.flags;
    const t0 = Date.now();
    const dashboardDir = defaultDashboardDir();
    const server = await startServer(this.appConfig, {
      host: f.host,
      port: f.port,
      ...(f.token === undefined ? {} : { token: f.token }),
      ...(f['cors-origin'] === undefined ? {} : { corsOrigins: f['cors-origin'] }),
      rateLimitPerMinute: f['rate-limit'],
      maxSubscribers: f['max-subscribers'],
      ...(dashboardDir === undefined ? {} : { dashboardDir }),
    });
    this.progress(
      `${new Date().toISOString()} serve: listening on ${server.url} (API /v1, OpenAPI /openapi.json, metrics /metrics${dashboardDir ? ', dashboard /' : ', no dashboard built'})`,
    );
    await this.untilStopped(
      (signal) => new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve())),
    );
    await server.close();
    this.progress(`${new Date().toISOString()} serve: stopped`);
    return { url: server.url, seconds: (Date.now() - t0) / 1000 };
  }
}
