import { Flags } from '@oclif/core';
import { CryptolambdaError } from '../core/errors.js';
import { DURATION_EXAMPLES, formatDuration, tryParseDuration } from '../core/time/duration.js';

/**
 * A time flag in the one duration syntax (500ms, 30s, 5m, 2h, 2d; core/time/duration.ts), parsed
 * to milliseconds. `bare` keeps old scripts working: a number without a unit is read in the unit
 * the flag used to take (ms or s) — deprecated, and said so in the help.
 */
export const durationFlag = (o: {
  description: string;
  default?: string;
  bare?: 'ms' | 's';
  min?: string;
  max?: string;
  /** Old names still accepted (oclif prints a deprecation warning). */
  aliases?: string[];
}) => {
  // oclif prefixes a parse error with "Parsing --flag:", so the messages do not name the flag.
  const toMs = (text: string): number => {
    const t = text.trim();
    const r = o.bare !== undefined && /^\d+$/.test(t) ? Number(t) * (o.bare === 's' ? 1000 : 1) : tryParseDuration(t);
    if (typeof r === 'string')
      throw new CryptolambdaError('INVALID_ARGUMENT', r, `durations look like ${DURATION_EXAMPLES}`);
    const min = o.min === undefined ? undefined : (tryParseDuration(o.min) as number);
    const max = o.max === undefined ? undefined : (tryParseDuration(o.max) as number);
    if (min !== undefined && r < min)
      throw new CryptolambdaError('INVALID_ARGUMENT', `${formatDuration(r)} is below the minimum ${o.min}`);
    if (max !== undefined && r > max)
      throw new CryptolambdaError('INVALID_ARGUMENT', `${formatDuration(r)} is above the maximum ${o.max}`);
    return r;
  };
  const base = Flags.custom<number>({
    description: `${o.description} (duration, e.g. ${DURATION_EXAMPLES}${o.bare ? `; a bare number is ${o.bare === 's' ? 'seconds' : 'ms'}, deprecated` : ''})`,
    helpValue: '<duration>',
    parse: async (input) => toMs(input),
    aliases: o.aliases ?? [],
    deprecateAliases: o.aliases !== undefined,
    multiple: false,
  });
  const def = o.default;
  return def === undefined ? base() : base({ default: tryParseDuration(def) as number, defaultHelp: async () => def });
};
