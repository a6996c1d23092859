import type { TestProject } from 'vitest/node';
import { type StackUpResult, stackDown, stackUp } from '../../src/app/stack.js';
import { resolveConfig } from '../../src/config/config.js';

/**
 * Integration tests run against the real local stack. Reuse one that is already up (a developer's
 * `cryptolambda stack up`); otherwise start it here and stop it again after the run, so CI leaves
 * no process behind.
 */
export default async function setup(_project: TestProject): Promise<() => Promise<void>> {
  const config = resolveConfig({}, { ...process.env, CRYPTOLAMBDA_TOPIC_PREFIX: '' });
  const t0 = Date.now();
  const up: StackUpResult = await stackUp(config, (m) => process.stderr.write(`[stack] ${m}\n`));
  const started = up.components.filter((c) => c.action === 'started').map((c) => c.name);
  process.stderr.write(
    `[stack] ready in ${Date.now() - t0} ms (${started.length ? `started ${started.join(', ')}` : 'reused running stack'})\n`,
  );
  return async () => {
    if (started.length > 0 && !process.env.CRYPTOLAMBDA_KEEP_STACK) {
      await stackDown(config);
      process.stderr.write('[stack] stopped the stack started for the tests\n');
    }
  };
}
