import t from 'tap';
import { join } from 'node:path';
import { exposurePlan, rangesFromBatches, tensorGroups } from '../../../calibration/calibrate/collect.js';
import { datasetFromFolder, balancedSubset } from '../../../calibration/images/dataset.js';
import { batchesFromDataset } from '../../../calibration/images/loader.js';
import { directPreset } from '../../../calibration/images/presets.js';
import { modelFromFile } from '../../../toolkit/onnx/read.js';
import { structureOf } from '../../../toolkit/passes/recognise.js';
import { quantizationPlanFrom } from '../../../toolkit/quant/plan.js';
import { preparedFp32From } from '../../../toolkit/quant/quantize.js';
import { CIFAR_B0 } from '../../helpers/paths.js';

const fp32 = preparedFp32From(await modelFromFile({ path: join(CIFAR_B0, 'model.onnx') })).model;
const tensors = quantizationPlanFrom({
  model: fp32,
  structure: structureOf(fp32).structure,
  profile: 'tensorrt',
}).activations.map((a) => a.tensor);
const dataset = balancedSubset({
  dataset: await datasetFromFolder({ root: join(CIFAR_B0, 'calib') }),
  count: 100,
  seed: 0,
});
const batches = () => batchesFromDataset({ dataset, preprocessing: directPreset(), inputSize: 32, batchSize: 25 });

const calibrated = (maxExposedBytes?: number) =>
  rangesFromBatches({
    model: fp32,
    tensors,
    batches,
    batchSize: 25,
    inputSize: 32,
    settings: { method: 'percentile', percentile: 99.99 },
    ...(maxExposedBytes ? { maxExposedBytes } : {}),
  });

t.test(
  'over the budget a batch runs in slices, one pass; past one image, a chain of sub-graphs, else tensor groups',
  async (t) => {
    const plan = (maxBytes: number) => exposurePlan({ model: fp32, tensors, batchSize: 25, maxBytes });
    t.strictSame(plan(1 << 30), { groups: [tensors], imagesPerRun: 25 }, 'within the budget: the whole batch');
    t.strictSame(plan(1 << 20), { groups: [tensors], imagesPerRun: 1 }, 'about 0.6 MB an image: one at a time');
    const grouped = plan(1 << 17);
    t.equal(grouped.imagesPerRun, 1);
    t.ok(grouped.groups.length > 1, `${grouped.groups.length} groups under 128 KiB`);
    t.strictSame(grouped.groups.flat(), tensors, 'every tensor once, in order');
    t.strictSame(tensorGroups({ model: fp32, tensors, batchSize: 1, maxBytes: 1 << 17 }), grouped.groups);

    const onePass = await calibrated();
    const sliced = await calibrated(1 << 20);
    const chained = await calibrated(1 << 17);
    // 16 KiB is less than one block's activations: no chain fits, so each group of tensors takes a pass.
    const grouped16 = exposurePlan({ model: fp32, tensors, batchSize: 25, maxBytes: 1 << 14 });
    const groups = await calibrated(1 << 14);
    t.equal(onePass.passes, 1);
    t.equal(sliced.passes, 1, 'slices cost no extra pass over the images');
    t.equal(chained.passes, 1, 'a chain of sub-graphs: one pass although one image exceeds the budget');
    t.equal(groups.passes, grouped16.groups.length);
    t.ok(groups.passes > 7, `${groups.passes} passes under 16 KiB`);
    for (const run of [sliced, chained, groups]) t.equal(run.images, 100);
    // Groups see the same one-image runs as slices: the same histograms, the same ranges.
    t.strictSame([...groups.ranges], [...sliced.ranges]);
    // The chain's sub-graphs round a few sums differently from the whole graph (a pool's mean, by an ulp or so).
    const drift = [...sliced.ranges].filter(
      ([tensor, amax]) => Math.abs(chained.ranges.get(tensor)! - amax) > 1e-5 * amax,
    );
    t.strictSame(drift, [], 'every chained range within 1e-5 of the sliced one');
    t.strictSame([...chained.ranges.keys()], [...sliced.ranges.keys()]);
    // Slices start each histogram from a smaller first batch (its bin width comes from that batch's max): close, not equal.
    const apart = [...onePass.ranges].filter(
      ([tensor, amax]) => Math.abs(sliced.ranges.get(tensor)! - amax) > 0.02 * amax,
    );
    t.strictSame(apart, [], 'every range within 2 % of the whole-batch one');
    t.equal(onePass.ranges.get('input'), 2.640000104904175);
  },
);
