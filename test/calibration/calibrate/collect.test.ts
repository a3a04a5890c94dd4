import t from 'tap';
import { join } from 'node:path';
import { rangesFromBatches, tensorGroups } from '../../../calibration/calibrate/collect.js';
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

t.test('large activations are calibrated in groups, with the same ranges as one pass', async (t) => {
  const groups = tensorGroups({ model: fp32, tensors, batchSize: 25, maxBytes: 1 << 20 });
  t.ok(groups.length > 1, `${groups.length} groups under 1 MiB per batch`);
  t.strictSame(groups.flat(), tensors, 'every tensor once, in order');
  const onePass = await rangesFromBatches({
    model: fp32,
    tensors,
    batches,
    batchSize: 25,
    inputSize: 32,
    settings: { method: 'percentile', percentile: 99.99 },
  });
  const grouped = await rangesFromBatches({
    model: fp32,
    tensors,
    batches,
    batchSize: 25,
    inputSize: 32,
    settings: { method: 'percentile', percentile: 99.99 },
    maxExposedBytes: 1 << 20,
  });
  t.equal(onePass.passes, 1);
  t.equal(grouped.passes, groups.length);
  t.equal(grouped.images, 100);
  t.strictSame([...grouped.ranges], [...onePass.ranges]);
  t.equal(onePass.ranges.get('input'), 2.640000104904175);
});
