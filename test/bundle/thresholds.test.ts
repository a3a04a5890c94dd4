import t from 'tap';
import {
  deviationSummary,
  estimatedThresholds,
  measuredThresholds,
  thresholdLines,
} from '../../toolkit/bundle/thresholds.js';

const measured = {
  agreement: 87.5,
  cosine: 0.98254,
  top1: 53.125,
  referenceAgreement: 96.875,
  maxLogitDeviation: 0.92,
};

t.test('a measured runtime: twice its deviation, two flips of slack, bounds rounded toward passing', async (t) => {
  t.strictSame(measuredThresholds({ count: 32, largestLogit: 8.5, measured }), {
    basis: 'measured',
    measured: { agreement: 87.5, cosine: 0.9825, top1: 53.125, referenceAgreement: 96.875, maxLogitDeviation: 0.92 },
    minAgreement: 81.25,
    minCosine: 0.96,
    minTop1: 46.87,
    minReferenceAgreement: 90.62,
    maxLogitDeviation: 1.84,
  });
});

t.test('a runtime measured at 0 still gets 5 % of the largest logit (another CPU runs other kernels)', async (t) => {
  const same = { ...measured, referenceAgreement: 100, maxLogitDeviation: 0 };
  const result = measuredThresholds({ count: 32, largestLogit: 8.5052, measured: same });
  t.equal(result.maxLogitDeviation, 0.43, '0.05 × 8.5052 = 0.42526, rounded up');
  t.equal(result.minReferenceAgreement, 93.75);
});

t.test('a runtime that cannot run at build: 25 % of the largest logit, every reference image, and why', async (t) => {
  const result = estimatedThresholds({
    count: 32,
    largestLogit: 8.5052,
    reference: { agreement: 87.5, cosine: 0.98254, top1: null },
    why: 'TensorRT builds its engine on the device, so the build cannot run it',
  });
  t.strictSame(result, {
    basis: 'estimated',
    why: 'TensorRT builds its engine on the device, so the build cannot run it; 25 % of the largest build-time logit 8.51',
    minAgreement: 81.25,
    minCosine: 0.96,
    minTop1: null,
    minReferenceAgreement: 93.75,
    maxLogitDeviation: 2.13,
  });
  const thresholds = {
    largestLogit: 8.5052,
    runtimes: { onnxruntime: measuredThresholds({ count: 32, largestLogit: 8.5052, measured }), tensorrt: result },
  };
  t.strictSame(thresholdLines({ thresholds, referenceName: 'int8' }), [
    'onnxruntime (measured at build: deviation 0.92, agreement with int8 96.875 %): top-1 agreement with fp32 ≥ 81.25 %, logit cosine ≥ 0.96, top-1 ≥ 46.87 %, agreement with the recorded int8 logits ≥ 90.62 %, max logit deviation ≤ 1.84',
    'tensorrt (estimated: TensorRT builds its engine on the device, so the build cannot run it; 25 % of the largest build-time logit 8.51): top-1 agreement with fp32 ≥ 81.25 %, logit cosine ≥ 0.96, agreement with the recorded int8 logits ≥ 93.75 %, max logit deviation ≤ 2.13',
  ]);
  t.equal(
    deviationSummary(thresholds),
    'device thresholds (max logit deviation): onnxruntime ≤ 1.84 measured, tensorrt ≤ 2.13 estimated',
  );
});
