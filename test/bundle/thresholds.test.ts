import t from 'tap';
import {
  boundsOf,
  deviationSummary,
  estimatedThresholds,
  measuredThresholds,
  samplingFloor,
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

t.test('with the evaluation: agreement and top-1 allow the golden set its sampling noise', async (t) => {
  // scipy 1.17.1: Wilson low of 1871/2000 is 0.92388 and binom.ppf(0.05, 32, 0.92388) = 27; of 1144/2000, 0.55020
  // and binom.ppf(0.05, 32, 0.55020) = 13.
  t.equal(samplingFloor({ count: 32, percent: 93.55, images: 2000 }), 84.375);
  t.equal(samplingFloor({ count: 32, percent: 57.2, images: 2000 }), 40.625);
  t.equal(
    samplingFloor({ count: 3, percent: 100, images: 3 }),
    0,
    '3 images say nothing: the --strict warning says so',
  );
  const lucky = { ...measured, agreement: 96.875, top1: 59.375 };
  const evaluation = { images: 2000, agreement: 93.55, top1: 57.2 };
  const result = measuredThresholds({ count: 32, largestLogit: 8.5, measured: lucky, evaluation });
  t.match(result, { minAgreement: 84.37, minTop1: 40.62, minReferenceAgreement: 90.62, minCosine: 0.96 });
  const unlucky = { ...measured, agreement: 81.25, top1: 40.625 };
  t.match(
    measuredThresholds({ count: 32, largestLogit: 8.5, measured: unlucky, evaluation }),
    {
      minAgreement: 75,
      minTop1: 34.37,
    },
    'a golden set below the floor keeps its own value less two flips: the build passes its own verify',
  );
  const estimated = estimatedThresholds({
    count: 32,
    largestLogit: 8.5,
    reference: { agreement: 96.875, cosine: 0.98, top1: null },
    why: 'a test',
    evaluation: { ...evaluation, top1: null },
  });
  t.match(estimated, { minAgreement: 84.37, minTop1: null, minReferenceAgreement: 93.75 });
});

t.test(
  "boundsOf: each runtime's bounds as numbers in verify's order and shape; no top-1 bound without labels",
  async (t) => {
    const onnxruntime = measuredThresholds({ count: 32, largestLogit: 8.5, measured });
    const unlabelled = { ...onnxruntime, minTop1: null };
    t.strictSame(boundsOf({ largestLogit: 8.5, runtimes: { onnxruntime, 'native-int8': unlabelled } }), {
      onnxruntime: [
        { metric: 'referenceAgreement', min: 90.62, unit: '%' },
        { metric: 'agreement', min: 81.25, unit: '%' },
        { metric: 'cosine', min: 0.96, unit: null },
        { metric: 'top1', min: 46.87, unit: '%' },
        { metric: 'logitDeviation', max: onnxruntime.maxLogitDeviation, unit: null },
      ],
      'native-int8': [
        { metric: 'referenceAgreement', min: 90.62, unit: '%' },
        { metric: 'agreement', min: 81.25, unit: '%' },
        { metric: 'cosine', min: 0.96, unit: null },
        { metric: 'logitDeviation', max: onnxruntime.maxLogitDeviation, unit: null },
      ],
    });
  },
);
