import t from 'tap';
import { seededB0Models } from '../../bench/seededB0.js';
import { meanCosine, top1Agreement } from '../../toolkit/eval/metrics.js';
import { int8UnavailableReason } from '../../toolkit/runtime/int8/native.js';
import { candidateLogits, candidateRuntimeFor } from '../../toolkit/quant/candidateLogits.js';
import { seededInput } from '../helpers/ort.js';

const unavailable = int8UnavailableReason();

t.test('the tensorrt and npu placements score candidates in ONNX Runtime', async (t) => {
  for (const profile of ['tensorrt', 'npu'] as const) {
    const { int8 } = await seededB0Models({ resolution: 32, profile });
    t.equal(candidateRuntimeFor({ profile, candidate: () => int8 }), 'onnxruntime', profile);
  }
});

t.test(
  "the onnxruntime placement scores candidates on the int8 engine, close to ONNX Runtime's Q/DQ",
  { skip: unavailable ?? false },
  async (t) => {
    const { int8 } = await seededB0Models({
      resolution: 32,
      seed: 4,
      profile: 'onnxruntime',
      amax: (i) => 2 + (i % 5),
    });
    t.equal(candidateRuntimeFor({ profile: 'onnxruntime', candidate: () => int8 }), 'native-int8');
    const batches = [5, 3].map((size, k) => ({ data: seededInput(size * 3 * 32 * 32, k + 1), items: [], size }));
    const engine = await candidateLogits({ model: int8, batches, inputSize: 32, runtime: 'native-int8' });
    const ort = await candidateLogits({ model: int8, batches, inputSize: 32, runtime: 'onnxruntime' });
    t.equal(engine.classes, ort.classes);
    t.equal(engine.data.length, 8 * ort.classes, 'a row for each image of both batches');
    const cosine = meanCosine(ort, engine);
    t.ok(cosine > 0.99, `logit cosine between the runtimes ${cosine.toFixed(4)}`);
    t.ok(top1Agreement(ort, engine) >= 75, `top-1 agreement ${top1Agreement(ort, engine)} %`);
  },
);
