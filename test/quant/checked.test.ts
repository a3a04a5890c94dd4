import t from 'tap';
import { join } from 'node:path';
import { balancedSubset, datasetFromFolder } from '../../calibration/images/dataset.js';
import { preloadedBatches } from '../../calibration/images/loader.js';
import { directPreset } from '../../calibration/images/presets.js';
import { modelFromFile } from '../../toolkit/onnx/read.js';
import { structureOf } from '../../toolkit/passes/recognise.js';
import type { Model } from '../../toolkit/onnx/ir.js';
import {
  checkedChoice,
  checkedScoresText,
  cosineDifference,
  scorerFor,
  type LogitScore,
} from '../../toolkit/quant/checked.js';
import { quantizationPlanFrom } from '../../toolkit/quant/plan.js';
import { qdqModelFrom } from '../../toolkit/quant/qdq.js';
import { preparedFp32From } from '../../toolkit/quant/quantize.js';
import { CIFAR_B0 } from '../helpers/paths.js';

t.test('a choice is applied only when it is not worse on the check images', async (t) => {
  const fp32 = preparedFp32From(await modelFromFile({ path: join(CIFAR_B0, 'model.onnx') })).model;
  const plan = quantizationPlanFrom({ model: fp32, structure: structureOf(fp32).structure, profile: 'tensorrt' });
  const int8At = (amax: number) =>
    qdqModelFrom({
      model: fp32,
      plan,
      ranges: new Map(plan.activations.map((a) => [a.tensor, amax])),
      weightQmax: 127,
      weightFormat: 'qdq',
    }).model;
  const dataset = await datasetFromFolder({ root: join(CIFAR_B0, 'calib') });
  const scorer = async (seed: number) =>
    scorerFor({
      fp32,
      batches: await preloadedBatches({
        dataset: balancedSubset({ dataset, count: 20, seed }),
        preprocessing: directPreset(),
        inputSize: 32,
        batchSize: 20,
      }),
      inputSize: 32,
    });
  const fit = await scorer(1);
  const check = await scorer(2);
  // A range of 8 clips less than 1 does; 1000 rounds everything to zero.
  const better = await checkedChoice({ choice: 'ranges', baseline: int8At(1), chosen: int8At(8), fit, check });
  t.ok(better.applied);
  t.ok(better.check!.chosen.cosine > better.check!.baseline.cosine);
  const worse = await checkedChoice({ choice: 'ranges', baseline: int8At(8), chosen: int8At(1000), fit, check });
  t.notOk(worse.applied, 'worse on check: not applied');
  t.match(
    checkedScoresText(worse),
    /^logit cosine 0\.\d{4} → -?0\.\d{4} on 20 fit images, 0\.\d{4} → -?0\.\d{4} on 20 check images \(−\d\.\d{4}, 95 % interval −\d\.\d{4}…−\d\.\d{4}\)$/,
  );
  const unchecked = await checkedChoice({
    choice: 'ranges',
    baseline: int8At(8),
    chosen: int8At(1000),
    fit,
    check: null,
  });
  t.ok(unchecked.applied, 'no check images: applied, and the text says so');
  t.match(checkedScoresText(unchecked), /, no check images held back$/);

  // A graph object is scored once (one step's chosen graph is the next one's baseline); an equal but separate graph
  // is scored again, with the same numbers.
  const graph = int8At(8);
  const first = check(graph);
  t.equal(check(graph), first, 'the same graph: the same pending score');
  const again = check(int8At(8));
  t.not(again, first, 'another graph object: scored on its own');
  t.strictSame(await again, await first);
});

// Scores with chosen per-image cosines: what the decision sees, without a graph to run.
const scoreOf = (perImage: number[]): LogitScore => ({
  cosine: perImage.reduce((a, b) => a + b, 0) / perImage.length,
  agreement: 100,
  images: perImage.length,
  perImage: Float64Array.from(perImage),
});
const baselineModel = { name: 'baseline' } as unknown as Model;
const chosenModel = { name: 'chosen' } as unknown as Model;

t.test('lower on the check images but inside their noise: applied; worse beyond it: not', async (t) => {
  const base = Array.from({ length: 128 }, (_, i) => 0.99 - (i % 7) * 0.001);
  // Half the images a little better, half a little worse, the mean 0.0005 lower: noise.
  const noisy = base.map((c, i) => c + (i % 2 === 0 ? 0.02 : -0.021));
  // Every image 0.002 worse: small, but certain.
  const worse = base.map((c) => c - 0.002);
  const fit = async () => scoreOf(base.map((c) => c + 0.005));
  const decide = (chosen: number[]) =>
    checkedChoice({
      choice: 'ranges',
      baseline: baselineModel,
      chosen: chosenModel,
      fit,
      check: async (model) => scoreOf(model === baselineModel ? base : chosen),
    });
  const inside = await decide(noisy);
  t.ok(inside.check!.chosen.cosine < inside.check!.baseline.cosine, 'the mean is lower');
  t.ok(inside.applied, 'the interval reaches above zero: applied');
  t.ok(inside.check!.difference.low < 0 && inside.check!.difference.high > 0);
  const beyond = await decide(worse);
  t.notOk(beyond.applied);
  t.match(
    checkedScoresText(beyond),
    /, 0\.\d{4} → 0\.\d{4} on 128 check images \(−0\.0020, 95 % interval −0\.0020…−0\.0020\)$/,
  );
});

t.test('the paired difference: bootstrapped from the same images, refused on different counts', async (t) => {
  const a = scoreOf([0.9, 0.8, 0.7, 0.6]);
  const b = scoreOf([0.91, 0.79, 0.72, 0.6]);
  const d = cosineDifference(a, b);
  t.equal(d.mean.toFixed(4), '0.0050');
  t.ok(d.low <= d.mean && d.mean <= d.high);
  t.strictSame(cosineDifference(a, a), { mean: 0, low: 0, high: 0 });
  t.throws(() => cosineDifference(a, scoreOf([0.9])), {
    message: 'cosineDifference: 4 and 1 images; both scores must be on the same images',
  });
});
