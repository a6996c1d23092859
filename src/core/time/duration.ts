/**
 * The one duration syntax of every time flag and setting: an integer or decimal with a unit,
 * `500ms`, `30s`, `5m`, `2h`, `2d`, `1w`, or several joined (`1h30m`). "0" alone is zero. A bare
 * number is rejected: "5000" could be ms or seconds, and flags used to disagree on which.
 * Returns a reason string instead of throwing (validated at the boundary).
 */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const PART_RE = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;

export const DURATION_EXAMPLES = '500ms, 30s, 5m, 2h, 2d';

export const tryParseDuration = (text: string): number | string => {
  const s = text.trim();
  if (s === '0') return 0;
  if (s === '') return 'empty duration';
  PART_RE.lastIndex = 0;
  let total = 0;
  let end = 0;
  for (let m = PART_RE.exec(s); m !== null; m = PART_RE.exec(s)) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    end = PART_RE.lastIndex;
  }
  if (end !== s.length || end === 0)
    return /^\d+(\.\d+)?$/.test(s)
      ? `${JSON.stringify(text)} has no unit (e.g. ${DURATION_EXAMPLES})`
      : `${JSON.stringify(text)} is not a duration (e.g. ${DURATION_EXAMPLES})`;
  if (!Number.isFinite(total) || total > Number.MAX_SAFE_INTEGER) return `${JSON.stringify(text)} is too long`;
  return Math.round(total);
};

/** Shortest exact text of a duration in ms ("90000" → "90s", "5400000" → "90m"). */
export const formatDuration = (ms: number): string => {
  if (ms === 0) return '0';
  for (const u of ['w', 'd', 'h', 'm', 's'] as const) if (ms % UNIT_MS[u]! === 0) return `${ms / UNIT_MS[u]!}${u}`;
  return `${ms}ms`;
};
