import t from 'tap';
import type { BundleManifest } from '../../toolkit/bundle/manifest.js';
import { regressionChecks, type GoldenSet } from '../../toolkit/device/regression.js';

// Four images, three classes: build-time int8 picks classes 0, 1, 2, 0; fp32 agrees except on image 3.
const int8 = Float32Array.from([3, 1, 0, 0, 4, 1, 1, 0, 5, 2, 1, 0]);
const fp32 = Float32Array.from([3, 1, 0, 0, 4, 1, 1, 0, 5, 1, 2, 0]);
const golden: GoldenSet = {
  index: {
    count: 4,
    inputShape: [4, 3, 2, 2],
    classes: 3,
    items: ['a', 'b', 'c', 'd'],
    labels: [0, 1, 2, 1],
    files: { inputs: 'i', fp32: 'f', int8: 'q' },
  },
  inputs: new Float32Array(48),
  fp32: { data: fp32, classes: 3 },
  reference: { data: int8, classes: 3 },
  referenceName: 'int8',
};
const bounds = { minAgreement: 50, minCosine: 0.9, minTop1: 50, minReferenceAgreement: 75, maxLogitDeviation: 0.5 };
const manifest = {
  thresholds: {
    largestLogit: 5,
    runtimes: {
      onnxruntime: { basis: 'estimated', why: 'a test', ...bounds },
      tensorrt: { basis: 'estimated', why: 'a test', ...bounds },
      'native-int8': { basis: 'estimated', why: 'a test', ...bounds, maxLogitDeviation: 1.25 },
    },
  },
  accuracy: { int8: { top1: 75 }, fp32: { top1: 50 } },
} as unknown as BundleManifest;
const files = [{ file: 'model.int8.onnx', ok: true, problem: null }];

t.test('the device reproducing the build passes every check, with the measured values', async (t) => {
  const checks = regressionChecks({
    manifest,
    golden,
    device: { data: Float32Array.from(int8, (v) => v + 0.1), classes: 3 },
    files,
    runtime: 'onnxruntime',
  });
  t.strictSame(
    checks.map((c) => [c.name, c.ok, c.measured, c.allowed]),
    [
      ["bundle files match the manifest's sha256", true, 0, '0 files differing'],
      ['top-1 agreement with build-time int8', true, 100, '>= 75 %'],
      ['top-1 agreement with build-time fp32', true, 75, '>= 50 %'],
      ['mean logit cosine with build-time fp32', true, checks[3]!.measured, '>= 0.9'],
      ['top-1 accuracy on the labelled golden inputs', true, 75, '>= 50 %'],
      ['max logit deviation from build-time int8', true, 0.1, '<= 0.5'],
    ],
  );
  t.ok((checks[3]!.measured as number) > 0.95 && (checks[3]!.measured as number) < 1);
  t.strictSame(checks[2]!.details, { images: 4, flipped: [3] });
  t.strictSame(checks[4]!.details, {
    images: 4,
    buildTime: 75,
    fp32ToDevice:
      'top-1 100.00 % → 75.00 % (−25.00 points, 95 % interval −75.00…+0.00; 1 right→wrong, 0 wrong→right of 4)',
    rightToWrong: 1,
    wrongToRight: 0,
    interval95: [-75, 0],
  });
});

t.test('a device that drifts fails the checks it breaks, naming the flipped images', async (t) => {
  const drifted = Float32Array.from(int8);
  drifted.set([0, 0, 9], 3); // image 1 now says class 2
  const checks = regressionChecks({
    manifest,
    golden,
    device: { data: drifted, classes: 3 },
    files: [{ file: 'golden/int8.f32', ok: false, problem: 'missing' }],
    runtime: 'tensorrt',
  });
  t.strictSame(
    checks.map((c) => c.ok),
    [false, true, true, false, true, false],
  );
  t.strictSame(checks[0]!.details, { files: 1, differing: ['golden/int8.f32: missing'] });
  t.strictSame(checks[1]!.details, { images: 4, flipped: [1] });
  t.equal(checks[5]!.measured, 8, '|9 − 1| on image 1');
});

t.test('a golden set without labels: the accuracy check is skipped with the reason, not failed', async (t) => {
  const checks = regressionChecks({
    manifest,
    golden: { ...golden, index: { ...golden.index, labels: null } },
    device: { data: int8, classes: 3 },
    files,
    runtime: 'onnxruntime',
  });
  t.strictSame(
    checks.filter((c) => c.skip).map((c) => c.skip),
    ['the golden set has no labels'],
  );
  t.equal(
    regressionChecks({ manifest, golden, device: null, files, runtime: 'onnxruntime' }).length,
    1,
    'no logits: only the file check',
  );
});

t.test("each runtime is held to the manifest's own bounds for it: no widening on the device", async (t) => {
  const device = { data: Float32Array.from(int8, (v, i) => (i === 0 ? v + 1 : v)), classes: 3 };
  const onOrt = regressionChecks({ manifest, golden, device, files, runtime: 'onnxruntime' }).at(-1)!;
  t.strictSame([onOrt.ok, onOrt.measured, onOrt.allowed], [false, 1, '<= 0.5']);
  const onNative = regressionChecks({ manifest, golden, device, files, runtime: 'native-int8' }).at(-1)!;
  t.strictSame([onNative.ok, onNative.measured, onNative.allowed], [true, 1, '<= 1.25']);
  t.strictSame(onNative.details, { runtime: 'native-int8', basis: 'estimated' });
});

t.test('a runtime the manifest holds no thresholds for fails, naming the ones it has', async (t) => {
  const checks = regressionChecks({ manifest, golden, device: { data: int8, classes: 3 }, files, runtime: 'ort-int8' });
  t.strictSame(checks.slice(1), [
    {
      name: 'the manifest holds thresholds for ort-int8',
      ok: false,
      measured: 'none',
      allowed: 'thresholds for the runtime that ran',
      details: {
        runtime: 'ort-int8',
        recorded: ['onnxruntime', 'tensorrt', 'native-int8'],
        fix: 'verify with --runtime onnxruntime or --runtime tensorrt or --runtime native-int8, or rebuild the bundle where ort-int8 runs',
      },
    },
  ]);
});
