import t from 'tap';
import { binomialCdf, binomialQuantile, wilsonInterval } from '../../toolkit/eval/binomial.js';

// Anchors from scipy 1.17.1: scipy.stats.binom.cdf / binom.ppf, and binomtest(k, n).proportion_ci(method='wilson').
t.test('the CDF and the lower quantile match scipy', async (t) => {
  t.ok(Math.abs(binomialCdf({ k: 14, trials: 37, probability: 0.5 }) - 0.09387077949941158) < 1e-12);
  t.ok(Math.abs(binomialCdf({ k: 3, trials: 20, probability: 0.3 }) - 0.10708680450373087) < 1e-12);
  t.equal(binomialCdf({ k: 32, trials: 32, probability: 0.9 }), 1);
  t.equal(binomialCdf({ k: -1, trials: 32, probability: 0.9 }), 0);
  t.equal(binomialQuantile({ level: 0.01, trials: 32, probability: 0.9 }), 24);
  t.equal(binomialQuantile({ level: 0.01, trials: 32, probability: 0.5 }), 9);
  t.equal(binomialQuantile({ level: 0.01, trials: 3, probability: 0.2 }), 0);
  t.equal(binomialQuantile({ level: 0.01, trials: 32, probability: 1 }), 32);
});

t.test("Wilson's interval matches scipy", async (t) => {
  const cases: [number, number, number, number][] = [
    [1871, 2000, 0.9238775789943178, 0.945452672823711],
    [3, 3, 0.4385029682449546, 1],
    [0, 10, 0, 0.27753279986288926],
    [29, 32, 0.7578184527161212, 0.9675984487016337],
  ];
  for (const [successes, trials, low, high] of cases) {
    const interval = wilsonInterval({ successes, trials });
    t.ok(Math.abs(interval.low - low) < 1e-12 && Math.abs(interval.high - high) < 1e-12, `${successes}/${trials}`);
  }
  t.strictSame(wilsonInterval({ successes: 0, trials: 0 }), { low: 0, high: 1 }, 'no images: no knowledge');
});
