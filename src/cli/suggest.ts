/** Levenshtein distance (insert, delete, substitute = 1), two rows of memory. */
export const editDistance = (a: string, b: string): number => {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
};

/**
 * The command id closest to what was typed, when it is close enough to be a typo (at most a third
 * of its length away); `id` uses oclif's ":" separator.
 */
export const closestCommand = (id: string, ids: readonly string[]): string | undefined => {
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  // With a space separator oclif folds the arguments into the id ("portfolo:u1"): try each prefix.
  const parts = id.split(':');
  for (let k = parts.length; k >= 1; k--) {
    const typed = parts.slice(0, k).join(':');
    for (const c of ids) {
      const d = editDistance(typed, c);
      if (d < bestD) {
        best = c;
        bestD = d;
      }
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.ceil(best.length / 3)) ? best : undefined;
};
