import t from 'tap';
import { join } from 'node:path';
import { balancedSubset, datasetFromFolder } from '../../calibration/images/dataset.js';
import { preloadedBatches } from '../../calibration/images/loader.js';
import { directPreset } from '../../calibration/images/presets.js';
import { modelFromFile } from '../../toolkit/onnx/read.js';
import { bytesFromModel } from '../../toolkit/onnx/write.js';
import { structureOf } from '../../toolkit/passes/recognise.js';
import { gptqWeightsFrom } from '../../toolkit/quant/gptqWeights.js';
import { quantizationPlanFrom } from '../../toolkit/quant/plan.js';
import { qdqModelFrom } from '../../toolkit/quant/qdq.js';
import { preparedFp32From } from '../../toolkit/quant/quantize.js';
import { weightsQuantizedPerChannel } from '../../toolkit/quant/weights.js';
import { CIFAR_B0 } from '../helpers/paths.js';
import { runOnnx } from '../helpers/ort.js';

const fp32 = preparedFp32From(await modelFromFile({ path: join(CIFAR_B0, 'model.onnx') })).model;
const full = quantizationPlanFrom({ model: fp32, structure: structureOf(fp32).structure, profile: 'tensorrt' });
// The stem, the first blocks' depthwise, SE, project and expand convolutions, and the classifier: every kind of
// layer, without the 1152-wide ones whose factorisations take seconds.
const plan = { ...full, weights: [...full.weights.slice(0, 12), full.weights.at(-1)!] };
const dataset = balancedSubset({
  dataset: await datasetFromFolder({ root: join(CIFAR_B0, 'calib') }),
  count: 16,
  seed: 1,
});
const batches = await preloadedBatches({ dataset, preprocessing: directPreset(), inputSize: 32, batchSize: 8 });

t.test(
  'GPTQ on 16 fixture images: below nearest rounding on every layer, carried exactly by both formats',
  async (t) => {
    const result = await gptqWeightsFrom({
      fp32,
      plan,
      weightQmax: 127,
      batches: async function* () {
        yield* batches;
      },
      inputSize: 32,
      batchSize: 8,
    });
    t.equal(result.errors.length, 13);
    t.ok(
      result.errors.every((e) => e.gptq <= e.nearest),
      'per layer, the lower of the two objectives is kept',
    );
    const total = (key: 'gptq' | 'nearest') => result.errors.reduce((n, e) => n + e[key], 0);
    t.ok(total('gptq') < 0.55 * total('nearest'), `summed ‖(W̃ − W)X‖²: ${total('gptq')} vs ${total('nearest')}`);
    t.match(result.report.summary, /^weights rounded by GPTQ: 13 layers, ‖\(W̃ − W\)X‖² at [\d.]+ % of nearest/);

    const stem = plan.weights[0]!.tensor;
    const tensor = fp32.graph.initializers.find((w) => w.name === stem)!;
    const nearest = weightsQuantizedPerChannel({
      data: tensor.data as Float32Array,
      dims: tensor.dims,
      axis: 0,
      qmax: 127,
    });
    const gptq = result.weights.get(stem)!;
    t.strictSame([...gptq.scales], [...nearest.scales], "the nearest rule's scales are kept");
    t.ok(
      gptq.values.some((q, i) => q !== nearest.values[i]),
      'the stem has integers nearest rounding would not choose',
    );

    const ranges = new Map(plan.activations.map((a) => [a.tensor, 6]));
    const quantized = (weightFormat: 'int8' | 'qdq') =>
      qdqModelFrom({ model: fp32, plan, ranges, weightQmax: 127, weightFormat, roundedWeights: result.weights }).model;
    const int8 = quantized('int8');
    const stored = int8.graph.initializers.find((w) => w.name === `${stem}.int8`)!;
    t.strictSame([...(stored.data as Int8Array)], [...gptq.values], 'the int8 initializer holds GPTQ integers');
    const input = batches[0]!.data;
    const dims = [8, 3, 32, 32];
    const fromInt8 = await runOnnx(bytesFromModel(int8), input, dims);
    const fromQdq = await runOnnx(bytesFromModel(quantized('qdq')), input, dims);
    t.strictSame([...fromQdq], [...fromInt8], 'QuantizeLinear turns the q·s floats back into the same integers');
  },
);
