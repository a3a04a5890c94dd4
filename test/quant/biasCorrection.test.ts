import t from 'tap';
import { join } from 'node:path';
import { balancedSubset, datasetFromFolder } from '../../calibration/images/dataset.js';
import { batchesFromDataset, type Batch } from '../../calibration/images/loader.js';
import { directPreset } from '../../calibration/images/presets.js';
import { modelFromFile } from '../../toolkit/onnx/read.js';
import { structureOf } from '../../toolkit/passes/recognise.js';
import { biasCorrectedFp32, channelMeans } from '../../toolkit/quant/biasCorrection.js';
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
          options,
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
