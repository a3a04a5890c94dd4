/**
 * Issue 19's goals as a test: the default `quantize` on the shared fixture with 5 calibration subsets (`--calib-count
 * 600 --seed 1…5`), each evaluated on the 2000 test images, and the worst of the five held to the goals: top-1
 * agreement ≥ 96 %, drop ≤ 0.5 points, logit cosine ≥ 0.995. The worst case, not the best: a default that holds on one
 * lucky subset is not good enough. The tensorrt placement (Jetson bundles) only: the onnxruntime placement's five runs
 * cost as much again (~150 s) in a suite that must stay under 30 minutes; `node dist/bench/run.js quant-seeds`
 * measures both (bench/results/quant-seeds.json, 6 December: onnxruntime worst 96.85 %, 0.05 points, 0.9953).
 */
import t from 'tap';
import { quantSeedRuns } from '../../bench/quantSeeds.js';
import { CIFAR_B0 } from '../helpers/paths.js';

// Measured (the bench, 6 December): worst agreement 96.90 %, drop 0.10 points, cosine 0.9959.
t.test('the default on 5 calibration subsets, tensorrt placement: the worst case meets the goals', async (t) => {
  const { runs, worst } = await quantSeedRuns({
    fixture: CIFAR_B0,
    seeds: [1, 2, 3, 4, 5],
    profiles: ['tensorrt'],
    calibCount: 600,
  });
  t.equal(runs.length, 5);
  for (const run of runs)
    t.comment(
      `seed ${run.seed}: ${run.calibrator}, drop ${run.drop.toFixed(2)}, agreement ${run.agreement.toFixed(2)} %, cosine ${run.cosine.toFixed(4)}`,
    );
  t.ok(worst.agreement >= 96, `worst top-1 agreement ${worst.agreement.toFixed(2)} % (goal ≥ 96 %)`);
  t.ok(worst.drop <= 0.5, `worst drop ${worst.drop.toFixed(2)} points (goal ≤ 0.5)`);
  t.ok(worst.cosine >= 0.995, `worst logit cosine ${worst.cosine.toFixed(4)} (goal ≥ 0.995)`);
});
