import t from 'tap';
import { thresholdsFromGolden, type GoldenRun } from '../../toolkit/pipeline/goldenRuntimes.js';

// Four images, three classes: the reference (int8 in ONNX Runtime) picks 0, 1, 2, 0; fp32 differs on image 3.
const reference = { data: Float32Array.from([3, 1, 0, 0, 4, 1, 1, 0, 5, 2, 1, 0]), classes: 3 };
const fp32 = { data: Float32Array.from([3, 1, 0, 0, 4, 1, 1, 0, 5, 1, 2, 0]), classes: 3 };
const run: GoldenRun = {
  reference,
  fp32,
  labels: [0, 1, 2, 1],
  inputs: new Float32Array(48),
  inputShape: [4, 3, 2, 2],
  int8: undefined,
  files: new Map([['model.int8.onnx', new Uint8Array(1)]]),
};

t.test('a Jetson bundle: TensorRT estimated with the reason, ONNX Runtime measured on its own reference', async (t) => {
  const thresholds = await thresholdsFromGolden({
    bundle: { target: { runtime: 'tensorrt' }, calibration: { profile: 'tensorrt' } },
    run,
  });
  t.strictSame(thresholds, {
    largestLogit: 5,
    runtimes: {
      tensorrt: {
        basis: 'estimated',
        why: 'TensorRT builds its engine on the device, so the build cannot run it; 25 % of the largest build-time logit 5',
        minAgreement: 25,
        minCosine: 0.93,
        minTop1: 25,
        minReferenceAgreement: 50,
        maxLogitDeviation: 1.25,
      },
      onnxruntime: {
        basis: 'measured',
        measured: { agreement: 75, cosine: 0.95, top1: 75, referenceAgreement: 100, maxLogitDeviation: 0 },
        minAgreement: 25,
        minCosine: 0.93,
        minTop1: 25,
        minReferenceAgreement: 50,
        maxLogitDeviation: 0.25,
      },
    },
  });
});

t.test('a CPU bundle without an int8 model (fp32): ONNX Runtime only', async (t) => {
  const thresholds = await thresholdsFromGolden({
    bundle: { target: { runtime: 'onnxruntime' }, calibration: null },
    run: { ...run, reference: fp32, files: new Map() },
  });
  t.strictSame(Object.keys(thresholds.runtimes), ['onnxruntime']);
});
