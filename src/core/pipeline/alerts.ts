import { CryptolambdaError } from '../errors.js';
import type { RunRecord } from './run.js';

/**
 * What the pipeline alerts about, and the Slack-compatible message for it. Building the payload is
 * pure so its exact shape is pinned by unit tests; delivery is the webhook adapter's job.
 */
export type Alert =
  | {
      readonly kind: 'step_failure';
      readonly date: string;
      readonly runId: string;
      readonly failed: readonly { readonly step: string; readonly attempts: number; readonly error: string }[];
      readonly blocked: readonly string[];
      readonly missedDeadline?: string;
    }
  | {
      readonly kind: 'dq_violation';
      readonly date: string;
      readonly runId: string;
      readonly step: string;
      readonly violations: readonly {
        readonly check: string;
        readonly table: string;
        readonly violationCount: number;
        readonly error?: string;
        readonly sample: readonly Record<string, unknown>[];
      }[];
      /** Other failed steps of the same run, if any. */
      readonly otherFailures: readonly { readonly step: string; readonly error: string }[];
      readonly blocked: readonly string[];
      readonly missedDeadline?: string;
    }
  | {
      readonly kind: 'missed_deadline';
      readonly date: string;
      readonly runId: string;
      /** ISO time of the deadline. */
      readonly deadline: string;
      /** Steps not finished when the deadline passed. */
      readonly pending: readonly string[];
    };

export type AlertKind = Alert['kind'];

/** Where alerts go (the webhook adapter, or a list in tests). */
export interface AlertSink {
  send(alert: Alert): Promise<void>;
}

/**
 * The one alert for a failed run: 'dq_violation' when a step failed on data-quality checks
 * (naming the checks and sample rows), otherwise 'step_failure'. Undefined for a run that did not
 * fail. A deadline that passed before the failure is mentioned in the same alert.
 */
export const alertForRun = (run: RunRecord): Alert | undefined => {
  if (run.status !== 'failed') return undefined;
  const failedSteps = run.steps.filter((s) => s.status === 'failed');
  const blocked = run.steps.filter((s) => s.status === 'blocked').map((s) => s.name);
  const missed = run.missedDeadline && run.deadline ? { missedDeadline: run.deadline } : {};
  const dqStep = failedSteps.find((s) => s.dq && s.dq.length > 0);
  if (dqStep) {
    return {
      kind: 'dq_violation',
      date: run.date,
      runId: run.runId,
      step: dqStep.name,
      violations: dqStep.dq!.map((r) => ({
        check: r.id,
        table: r.table,
        violationCount: r.violationCount,
        sample: r.sample,
        ...(r.error ? { error: r.error } : {}),
      })),
      otherFailures: failedSteps.filter((s) => s !== dqStep).map((s) => ({ step: s.name, error: s.error ?? '' })),
      blocked,
      ...missed,
    };
  }
  return {
    kind: 'step_failure',
    date: run.date,
    runId: run.runId,
    failed: failedSteps.map((s) => ({ step: s.name, attempts: s.attempts, error: s.error ?? 'unknown error' })),
    blocked,
    ...missed,
  };
};

export interface SlackPayload {
  readonly text: string;
  readonly blocks: readonly SlackBlock[];
}

export type SlackBlock =
  | { readonly type: 'header'; readonly text: { readonly type: 'plain_text'; readonly text: string } }
  | { readonly type: 'section'; readonly text: { readonly type: 'mrkdwn'; readonly text: string } }
  | { readonly type: 'context'; readonly elements: readonly { readonly type: 'mrkdwn'; readonly text: string }[] };

/** Slack rejects section texts over 3000 characters and headers over 150. */
const clip = (s: string, max: number): string => (s.length <= max ? s : `${s.slice(0, max - 1)}…`);

const section = (text: string): SlackBlock => ({ type: 'section', text: { type: 'mrkdwn', text: clip(text, 3000) } });

/** Sample rows as a code block, one JSON object per line (bigints already made JSON-safe by the runner). */
const sampleBlock = (rows: readonly Record<string, unknown>[]): string =>
  rows.length === 0 ? '' : `\n\`\`\`\n${clip(rows.map((r) => JSON.stringify(r)).join('\n'), 2500)}\n\`\`\``;

/** The Slack-compatible message (`text` is the notification fallback; `blocks` the rich body). */
export const alertPayload = (alert: Alert): SlackPayload => {
  const context: SlackBlock = {
    type: 'context',
    elements: [{ type: 'mrkdwn', text: `cryptolambda pipeline · date ${alert.date} · run ${alert.runId}` }],
  };
  const tail = (blocked: readonly string[], missed?: string): string[] => [
    ...(blocked.length > 0 ? [`Blocked (not run): ${blocked.join(', ')}`] : []),
    ...(missed ? [`Deadline ${missed} was also missed.`] : []),
  ];
  switch (alert.kind) {
    case 'step_failure': {
      const text = `Pipeline ${alert.date} failed: ${alert.failed.map((f) => f.step).join(', ')}`;
      return {
        text,
        blocks: [
          { type: 'header', text: { type: 'plain_text', text: clip(text, 150) } },
          ...alert.failed.map((f) =>
            section(`*${f.step}* failed after ${f.attempts} attempt${f.attempts === 1 ? '' : 's'}: ${f.error}`),
          ),
          ...tail(alert.blocked, alert.missedDeadline).map(section),
          context,
        ],
      };
    }
    case 'dq_violation': {
      const text = `Pipeline ${alert.date}: data-quality checks failed: ${alert.violations.map((v) => v.check).join(', ')}`;
      return {
        text,
        blocks: [
          { type: 'header', text: { type: 'plain_text', text: clip(`Data-quality violation ${alert.date}`, 150) } },
          ...alert.violations.map((v) =>
            section(
              v.error
                ? `*${v.check}* on \`${v.table}\` could not run: ${v.error}`
                : `*${v.check}* on \`${v.table}\`: ${v.violationCount} violating row${v.violationCount === 1 ? '' : 's'}${sampleBlock(v.sample)}`,
            ),
          ),
          ...alert.otherFailures.map((f) => section(`*${f.step}* failed: ${f.error}`)),
          ...tail(alert.blocked, alert.missedDeadline).map(section),
          context,
        ],
      };
    }
    case 'missed_deadline': {
      const text = `Pipeline ${alert.date} missed its deadline ${alert.deadline}`;
      return {
        text,
        blocks: [
          { type: 'header', text: { type: 'plain_text', text: clip(text, 150) } },
          section(`Still pending: ${alert.pending.length > 0 ? alert.pending.join(', ') : '(finishing)'}`),
          context,
        ],
      };
    }
  }
};

/**
 * The absolute deadline for `--deadline HH:MM` (UTC): that time on the UTC day the run started. A
 * run that starts after it has already missed it.
 */
export const deadlineOn = (hhmm: string, runStart: Date): Date => {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(hhmm);
  if (!m)
    throw new CryptolambdaError('INVALID_ARGUMENT', `invalid deadline ${JSON.stringify(hhmm)}`, 'expected HH:MM (UTC)');
  const d = new Date(runStart.getTime());
  d.setUTCHours(Number(m[1]), Number(m[2]), 0, 0);
  return d;
};
