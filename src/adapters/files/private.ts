import { chmod, mkdir } from 'node:fs/promises';

/**
 * Create (or tighten) directories to 0700: the lake, the state dir and the logs hold users' events
 * and credentials. New files are 0600 through the CLI's umask (bin/run.js); this also closes trees
 * created before that default, since nothing under a 0700 directory is reachable by other users.
 */
export const privateDirs = async (dirs: readonly string[]): Promise<void> => {
  for (const d of dirs) {
    await mkdir(d, { recursive: true, mode: 0o700 });
    await chmod(d, 0o700);
  }
};
