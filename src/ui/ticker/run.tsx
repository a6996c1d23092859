import { render } from 'ink';
import type { TickerOptions } from '../../core/ticker/model.js';
import type { TickerSource } from '../../core/ticker/snapshot.js';
import { TickerApp } from './ticker-app.js';

const ENTER_ALT_SCREEN = '\x1b[?1049h\x1b[H';
const LEAVE_ALT_SCREEN = '\x1b[?1049l';

/**
 * Full-screen ticker on a terminal: the alternate screen (the shell's scrollback is untouched and
 * comes back on exit), Ink for the frames. Resolves when the user quits (q, Esc, Ctrl+C) or on
 * SIGTERM/SIGHUP; Ink restores raw mode and the cursor on unmount, and `finally` leaves the
 * alternate screen even if rendering threw.
 */
export const runTickerScreen = async (opts: {
  source: TickerSource;
  intervalMs: number;
  options: Partial<TickerOptions>;
  color: boolean;
  stdout?: NodeJS.WriteStream;
}): Promise<void> => {
  const stdout = opts.stdout ?? process.stdout;
  stdout.write(ENTER_ALT_SCREEN);
  const app = render(
    <TickerApp source={opts.source} intervalMs={opts.intervalMs} options={opts.options} color={opts.color} />,
    { stdout, exitOnCtrlC: true, patchConsole: true },
  );
  const stop = () => app.unmount();
  process.once('SIGTERM', stop);
  process.once('SIGHUP', stop);
  try {
    await app.waitUntilExit();
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGHUP', stop);
    stdout.write(LEAVE_ALT_SCREEN);
  }
};
