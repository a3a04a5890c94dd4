import t from 'tap';
import { join } from 'node:path';
import { balancedSubset, datasetFromFolder } from '../../calibration/images/dataset.js';
import { preloadedBatches } from '../../calibration/images/loader.js';
import { directPreset } from '../../calibration/images/presets.js';
import { modelFromFile } from '../../toolkit/onnx/read.js';
import { structureOf } from '../../toolkit/passes/recognise.js';
import { checkedChoice, checkedScoresText, scorerFor } from '../../toolkit/quant/checked.js';
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
    /^logit cosine 0\.\d{4} → -?0\.\d{4} on 20 fit images, 0\.\d{4} → -?0\.\d{4} on 20 check images$/,
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
});
