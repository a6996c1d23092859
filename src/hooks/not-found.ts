import type { Hook } from '@oclif/core';
import { closestCommand } from '../cli/suggest.js';

/**
 * @oclif/plugin-not-found asks "Did you mean …?" only on an interactive terminal; a script or a CI
 * log gets no suggestion from it. This hook prints the closest command there too (the plugin still
 * prints the warning and exits 127).
 */
const hook: Hook<'command_not_found'> = async (opts) => {
  if (process.stdin.isTTY === true) return;
  const ids = opts.config.commands.filter((c) => !c.hidden).map((c) => c.id);
  const best = closestCommand(opts.id, ids);
  const sep = opts.config.topicSeparator ?? ':';
  if (best !== undefined) process.stderr.write(`Did you mean: ${opts.config.bin} ${best.replaceAll(':', sep)}?\n`);
};

export default hook;
