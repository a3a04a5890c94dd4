import t from 'tap';
import { join } from 'node:path';
import { balancedSubset, datasetFromFolder } from '../../calibration/images/dataset.js';
import { batchesFromDataset, type Batch } from '../../calibration/images/loader.js';
import { directPreset } from '../../calibration/images/presets.js';
import { modelFromFile } from '../../toolkit/onnx/read.js';
import { structureOf } from '../../toolkit/passes/recognise.js';
import {
  biasCorrectedFp32,
  channelMeans,
  checkedBiasCorrectionCount,
  defaultBiasCorrectionImages,
  walkBytesPerImage,
} from '../../toolkit/quant/biasCorrection.js';
import { quantizationPlanFrom } from '../../toolkit/quant/plan.js';
import { qdqModelFrom } from '../../toolkit/quant/qdq.js';
import { preparedFp32From } from '../../toolkit/quant/quantize.js';
import { CIFAR_B0 } from '../helpers/paths.js';

// The correction runs one block at a time; the whole int8 graph run afterwards must see exactly the corrected means.
for (const profile of ['tensorrt', 'onnxruntime'] as const)
  t.test(
    `${profile}: after correction every layer's int8 per-channel mean equals fp32's on the correction images`,
    async (t) => {
      const fp32 = preparedFp32From(await modelFromFile({ path: join(CIFAR_B0, 'model.onnx') })).model;
      const plan = quantizationPlanFrom({ model: fp32, structure: structureOf(fp32).structure, profile });
      const ranges = new Map(plan.activations.map((a) => [a.tensor, 6]));
      const dataset = balancedSubset({
        dataset: await datasetFromFolder({ root: join(CIFAR_B0, 'calib') }),
        count: 40,
        seed: 3,
      });
      const batches: Batch[] = [];
      for await (const batch of batchesFromDataset({
        dataset,
        preprocessing: directPreset(),
        inputSize: 32,
        batchSize: 20,
      }))
        batches.push(batch);
      const options = { fp32, plan, ranges, weightQmax: 127, weightFormat: 'int8' as const, batches, inputSize: 32 };
      const { fp32: corrected, report } = await biasCorrectedFp32(options);
      t.equal(report.counts.layers, 82);
      const outputs = fp32.graph.nodes
        .filter((n) => n.opType === 'Conv' || n.opType === 'Gemm')
        .map((n) => n.outputs[0]!);
      const reference = await channelMeans(fp32, outputs, options);
      const gap = async (base: typeof fp32) => {
        const means = await channelMeans(
          qdqModelFrom({ model: base, plan, ranges, weightQmax: 127, weightFormat: 'int8' }).model,
          outputs,
          { ...options, optimization: 'all' },
        );
        let worst = 0;
        for (const name of outputs) {
          const r = reference.get(name)!;
          const m = means.get(name)!;
          for (let c = 0; c < r.length; c++) worst = Math.max(worst, Math.abs(r[c]! - m[c]!) / (1 + Math.abs(r[c]!)));
        }
        return worst;
      };
      const before = await gap(fp32);
      const after = await gap(corrected);
      t.ok(after < 1e-3, `worst relative mean gap after correction ${after.toExponential(2)}`);
      t.ok(before > 100 * after, `before: ${before.toExponential(2)}`);
    },
  );

t.test('the walk holds, per image, the widest pair of block boundaries side by side', async (t) => {
  const fp32 = preparedFp32From(await modelFromFile({ path: join(CIFAR_B0, 'model.onnx') })).model;
  // The image (3×32×32) and the first block's output (16×16×16), float32: every later pair is smaller.
  t.equal(walkBytesPerImage(fp32), (3 * 32 * 32 + 16 * 16 * 16) * 4);
});

t.test('the default correction images follow the compute budget, then the memory budget', async (t) => {
  const small = 28_672;
  t.equal(defaultBiasCorrectionImages({ macs: 8_474_848, walkBytes: small }), 256, 'the 32×32 fixture: capped at 256');
  t.equal(defaultBiasCorrectionImages({ macs: 385_814_752, walkBytes: 2e6 }), 32, 'B0 at 224');
  t.equal(defaultBiasCorrectionImages({ macs: 993_561_872, walkBytes: 4e6 }), 12, 'B2 at 260');
  t.equal(defaultBiasCorrectionImages({ macs: 37_000_000_000, walkBytes: 23e6 }), 8, 'B7 at 600: the floor of 8');
  t.equal(defaultBiasCorrectionImages({ macs: 8_474_848, walkBytes: 2 ** 24 }), 64, 'what 1 GiB holds, below both');
  t.equal(defaultBiasCorrectionImages({ macs: 8_474_848, walkBytes: 2 ** 31 }), 1, 'one image at least');
});

t.test('a given correction count the walk cannot hold is refused with the most that fit', async (t) => {
  t.equal(checkedBiasCorrectionCount({ count: 46, walkBytes: 23e6 }), 46);
  t.throws(() => checkedBiasCorrectionCount({ count: 256, walkBytes: 23e6 }), {
    name: 'UserError',
    message:
      "--bias-correction-count 256 would hold 5615 MiB of this model's activations at once (21.9 MiB an image); " +
      'at most 46 fit the 1 GiB budget: give --bias-correction-count 46 or fewer, or leave it out for the default',
  });
});
