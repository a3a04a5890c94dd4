/**
 * The binomial distribution, exactly enough for counts of images: its CDF summed in log space (tens of thousands
 * of trials neither overflow nor lose the tail), its lower quantile, and Wilson's interval for a proportion.
 */

/** P(X ≤ k) for X ~ Binomial(trials, probability). */
export function binomialCdf(options: { k: number; trials: number; probability: number }): number {
  const { k, trials: n, probability: p } = options;
  if (k < 0) return 0;
  if (k >= n || p <= 0) return 1;
  if (p >= 1) return 0;
  const logP = Math.log(p);
  const logQ = Math.log1p(-p);
  let logPmf = n * logQ;
  let total = 0;
  for (let i = 0; i <= k; i++) {
    total += Math.exp(logPmf);
    logPmf += Math.log((n - i) / (i + 1)) + logP - logQ;
  }
  return Math.min(1, total);
}

/** The smallest k with P(X ≤ k) ≥ level: a count that a Binomial(trials, probability) falls below only rarely. */
export function binomialQuantile(options: { level: number; trials: number; probability: number }): number {
  const { level, trials, probability } = options;
  for (let k = 0; k < trials; k++) if (binomialCdf({ k, trials, probability }) >= level) return k;
  return trials;
}

/** Wilson's 95 % score interval for `successes` of `trials` (z = 1.96), as shares in [0, 1]. */
export function wilsonInterval(options: { successes: number; trials: number }): { low: number; high: number } {
  const { successes, trials: n } = options;
  if (n === 0) return { low: 0, high: 1 };
  const z = 1.959963984540054;
  const p = successes / n;
  const centre = (p + (z * z) / (2 * n)) / (1 + (z * z) / n);
  const half = (z / (1 + (z * z) / n)) * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}
