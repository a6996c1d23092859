import { CryptolambdaError } from '../../core/errors.js';
import { type Alert, type AlertSink, alertPayload } from '../../core/pipeline/alerts.js';

/**
 * Alerts to a Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat and most chat
 * tools accept `{text, blocks}`). The URL is a credential — anyone holding it can post — so it
 * never appears in a message, log line or error: errors are rebuilt from the status or the
 * network error code, and `redact` scrubs it from anything else that might echo it.
 */
export const ALERT_WEBHOOK_ENV = 'CRYPTOLAMBDA_ALERT_WEBHOOK';
/** Plain http:// is refused (the URL is a credential and alerts carry data) unless this is `1`. */
export const ALERT_WEBHOOK_ALLOW_HTTP_ENV = 'CRYPTOLAMBDA_ALERT_WEBHOOK_ALLOW_HTTP';

export interface WebhookOptions {
  readonly url: string;
  /** Per attempt. */
  readonly timeoutMs?: number;
  /** Delay before the single retry. */
  readonly retryDelayMs?: number;
  /** Injected in tests; defaults to the global fetch (Node >= 20). */
  readonly fetch?: typeof fetch;
}

/** Replace the URL and its path (the secret part of Slack hooks) wherever they occur. */
export const redact = (text: string, url: string): string => {
  let out = text.split(url).join('[webhook]');
  try {
    const u = new URL(url);
    const secretParts = [
      u.href,
      `${u.host}${u.pathname}`,
      u.pathname.length > 1 ? u.pathname : '',
      u.search,
      u.password,
    ];
    for (const part of secretParts) if (part && part.length > 1) out = out.split(part).join('[webhook]');
  } catch {
    // not a URL: the literal replacement above is all we can do
  }
  return out;
};

const isRetriableStatus = (status: number): boolean => status === 429 || status >= 500;

/** The network error code only (ECONNREFUSED, ETIMEDOUT...): undici's messages can include the address. */
const networkReason = (err: unknown): string => {
  const e = err as { name?: string; cause?: { code?: string; errors?: { code?: string }[] } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'timed out';
  const code = e?.cause?.code ?? e?.cause?.errors?.[0]?.code;
  return code && /^[A-Z_]+$/.test(code) ? `network error ${code}` : 'network error';
};

export class WebhookAlerter implements AlertSink {
  private readonly timeoutMs: number;
  private readonly retryDelayMs: number;
  private readonly fetchFn: typeof fetch;

  constructor(private readonly opts: WebhookOptions) {
    this.timeoutMs = opts.timeoutMs ?? 5_000;
    this.retryDelayMs = opts.retryDelayMs ?? 1_000;
    this.fetchFn = opts.fetch ?? fetch;
  }

  /** POST the alert; one retry on a network error, timeout, 429 or 5xx. Throws INTERNAL without the URL. */
  async send(alert: Alert): Promise<void> {
    const body = JSON.stringify(alertPayload(alert));
    let reason = '';
    for (let attempt = 1; attempt <= 2; attempt++) {
      if (attempt === 2) await new Promise((r) => setTimeout(r, this.retryDelayMs));
      try {
        const res = await this.fetchFn(this.opts.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(this.timeoutMs),
          // A redirect would re-post the alert (307/308 keep the body) to wherever the receiver
          // points, possibly another host: never follow one, report it.
          redirect: 'manual',
        });
        // Drain the body so the connection is released (Slack answers "ok").
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) return;
        if (res.type === 'opaqueredirect' || (res.status >= 300 && res.status < 400)) {
          reason = `HTTP ${res.status || 'redirect'} (redirects are not followed: set the final URL)`;
          break;
        }
        reason = `HTTP ${res.status}`;
        if (!isRetriableStatus(res.status)) break;
      } catch (err) {
        reason = networkReason(err);
      }
    }
    throw new CryptolambdaError(
      'INTERNAL',
      redact(`alert webhook delivery failed (${alert.kind} for ${alert.date}): ${reason}`, this.opts.url),
      `check ${ALERT_WEBHOOK_ENV}`,
    );
  }
}

/**
 * The alerter configured by CRYPTOLAMBDA_ALERT_WEBHOOK, or undefined when it is unset (alerts off).
 * A malformed value is an INVALID_CONFIG error that names the variable but not its value.
 */
export const webhookAlerterFromEnv = (
  env: NodeJS.ProcessEnv = process.env,
  opts: Omit<WebhookOptions, 'url'> = {},
): WebhookAlerter | undefined => {
  const url = env[ALERT_WEBHOOK_ENV]?.trim();
  if (!url) return undefined;
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) {
    throw new CryptolambdaError(
      'INVALID_CONFIG',
      `${ALERT_WEBHOOK_ENV}: not a valid http(s) URL (value not shown)`,
      'set it to the incoming-webhook URL of the alert channel, or unset it to disable alerts',
    );
  }
  if (parsed.protocol === 'http:' && env[ALERT_WEBHOOK_ALLOW_HTTP_ENV] !== '1') {
    throw new CryptolambdaError(
      'INVALID_CONFIG',
      `${ALERT_WEBHOOK_ENV}: plain http:// is refused (value not shown): the URL is a credential and alerts carry data`,
      `use the https:// URL, or set ${ALERT_WEBHOOK_ALLOW_HTTP_ENV}=1 for a receiver on a trusted network`,
    );
  }
  return new WebhookAlerter({ ...opts, url });
};
