import t from 'tap';
import { join } from 'node:path';
import { datasetFromFolder } from '../../calibration/images/dataset.js';
import { batchesFromDataset, type Batch } from '../../calibration/images/loader.js';
import { directPreset } from '../../calibration/images/presets.js';
import { modelFromFile } from '../../toolkit/onnx/read.js';
import { structureOf } from '../../toolkit/passes/recognise.js';
import { quantizationPlanFrom } from '../../toolkit/quant/plan.js';
import { preparedFp32From } from '../../toolkit/quant/quantize.js';
import { defaultSearchImages, rangesSearchedFrom, searchGrid } from '../../toolkit/quant/rangeSearch.js';
import { CIFAR_B0 } from '../helpers/paths.js';

t.test(
  'the grid starts with the calibrated range, then runs geometrically from half of it to the ceiling',
  async (t) => {
    const grid = searchGrid(2, 32, 4);
    t.equal(grid[0], 2);
    t.strictSame(
      grid.slice(1).map((v) => Number(v.toFixed(6))),
      [1, 2.378414, 5.656854, 13.454343, 32],
    );
    t.strictSame(
      searchGrid(4, 1, 2),
      [4, 2, 2 * Math.SQRT2],
      'a ceiling below the calibrated range tops out at the range',
    );
  },
);

t.test('the default image count follows a compute budget', async (t) => {
  t.equal(defaultSearchImages({ macs: 8_474_848, tensors: 114 }), 128, 'the 32×32 fixture: capped at 128');
  t.equal(defaultSearchImages({ macs: 385_814_752, tensors: 114 }), 32, 'B0 at 224');
  t.equal(defaultSearchImages({ macs: 993_561_872, tensors: 140 }), 12, 'B2 at 260');
  t.equal(defaultSearchImages({ macs: 1_830_000_000, tensors: 180 }), 8, 'B3 at 300: the floor of 8');
  t.equal(defaultSearchImages({ macs: 37_000_000_000, tensors: 385 }), 8, 'B7 at 600: the floor of 8');
});

t.test(
  'scored at the logits, an SE-scaled tensor whose percentile clips its outlier channels gets a wider range',
  async (t) => {
    const fp32 = preparedFp32From(await modelFromFile({ path: join(CIFAR_B0, 'model.onnx') })).model;
    const full = quantizationPlanFrom({ model: fp32, structure: structureOf(fp32).structure, profile: 'tensorrt' });
    // The input of stage 7's projection conv: 99.8 % of |x| lies below 2.0, its largest value is 51.2.
    const tensor = '/features/features.7/features.7.0/block/block.2/Mul_output_0';
    const plan = { ...full, activations: full.activations.filter((a) => a.tensor === tensor) };
    t.equal(plan.activations.length, 1);
    // The outlier channels are class-specific: the first 64 images in folder order (airplanes) trigger them.
    const calib = await datasetFromFolder({ root: join(CIFAR_B0, 'calib') });
    const dataset = { ...calib, items: calib.items.slice(0, 64) };
    const batches: Batch[] = [];
    for await (const batch of batchesFromDataset({
      dataset,
      preprocessing: directPreset(),
      inputSize: 32,
      batchSize: 32,
    }))
      batches.push(batch);
    const { ranges, searched } = await rangesSearchedFrom({
      fp32,
      plan,
      ranges: new Map([[tensor, 2]]),
      ceilings: new Map([[tensor, 51.2]]),
      weightQmax: 127,
      weightFormat: 'qdq',
      batches,
      inputSize: 32,
      // The whole graph: the score is the logit cosine, as it was before the search ran blocks alone.
      window: Infinity,
    });
    t.equal(searched.length, 1);
    const [only] = searched;
    t.equal(only!.start, 2);
    t.equal(ranges.get(tensor), only!.searched);
    t.ok(only!.searched > 6 && only!.searched < 51.2, `searched range ${only!.searched.toFixed(2)}`);
    t.ok(only!.cosineStart < 0.985, `clipped at 2.0: logit cosine ${only!.cosineStart.toFixed(4)}`);
    t.ok(only!.cosineSearched > 0.998, `searched: logit cosine ${only!.cosineSearched.toFixed(4)}`);
  },
);
