/** "Did you mean": the known name nearest to a mistyped one, when it is near enough to be what was meant. */

/** Levenshtein distance: insertions, deletions and substitutions, one each. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** Two edits cover a transposition or a typo and a slip; more and the guess is more often wrong than right. */
const MAX_DISTANCE = 2;
/** A prefix shorter than this (`--b`) matches too many names to mean one. */
const MIN_PREFIX = 3;

/**
 * The candidate nearest to `typed`: within two edits, or one of them a prefix of the other (`calib-dir` → `calib`);
 * null when none is. Ties go to the earlier candidate.
 */
export function nearestName(typed: string, candidates: readonly string[]): string | null {
  let best: { name: string; distance: number } | null = null;
  for (const name of candidates) {
    const distance = editDistance(typed, name);
    const prefix =
      Math.min(typed.length, name.length) >= MIN_PREFIX && (typed.startsWith(name) || name.startsWith(typed));
    if (distance > MAX_DISTANCE && !prefix) continue;
    if (best === null || distance < best.distance) best = { name, distance };
  }
  return best?.name ?? null;
}
