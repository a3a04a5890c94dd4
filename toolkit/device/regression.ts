/**
 * The on-device accuracy regression: the bundle's golden inputs through the device's runtime, compared with what
 * the build recorded. Pure: the caller runs the model and checks the files; this turns numbers into checks.
 */
import { goldenFloats, goldenIndexFrom, type GoldenIndex } from '../bundle/golden.js';
import type { BundleManifest, FileCheck, RuntimeThresholds, ThresholdRuntime } from '../bundle/manifest.js';
import { atLeast, atMost, type CheckResult } from '../eval/checkReports.js';
import { pairedText, pairedTop1FromLogits } from '../eval/paired.js';
import { argmax, maxAbsDeviation, meanCosine, top1Agreement, topKAccuracy, type Logits } from '../eval/metrics.js';

export interface GoldenSet {
  index: GoldenIndex;
  inputs: Float32Array;
  fp32: Logits;
  /** What the deployed model (int8, else fp32) gave at build time. */
  reference: Logits;
  referenceName: 'int8' | 'fp32';
}

export async function goldenSetFrom(options: { bundle: string; manifest: BundleManifest }): Promise<GoldenSet> {
  const { bundle, manifest } = options;
  const index = await goldenIndexFrom({ bundle, manifest });
  const floats = (name: string, field: string, values: number) =>
    goldenFloats({ bundle, manifest, name, field, values });
  const [n, ...image] = index.inputShape;
  const inputs = await floats(index.files.inputs, 'golden files.inputs', n * image.reduce((a, b) => a * b, 1));
  const fp32 = { data: await floats(index.files.fp32, 'golden files.fp32', n * index.classes), classes: index.classes };
  const int8 = index.files.int8
    ? { data: await floats(index.files.int8, 'golden files.int8', n * index.classes), classes: index.classes }
    : null;
  return { index, inputs, fp32, reference: int8 ?? fp32, referenceName: int8 ? 'int8' : 'fp32' };
}

const round = (v: number, digits: number) => Number(v.toFixed(digits));

/** Rows where the two disagree on the top-1 class (golden item indices). */
function flipped(a: Logits, b: Logits): number[] {
  const rows: number[] = [];
  for (let row = 0; row < a.data.length / a.classes; row++) if (argmax(a, row) !== argmax(b, row)) rows.push(row);
  return rows;
}

export interface RegressionCheckOptions {
  manifest: BundleManifest;
  golden: GoldenSet;
  device: Logits | null;
  files: FileCheck[];
  runtime: string;
}

/** The inputs of the checks that need the model's output on the device, and the thresholds of its runtime. */
type DeviceRun = RegressionCheckOptions & { device: Logits; thresholds: RuntimeThresholds };

/**
 * Every check of `effnet-edge verify`, in a fixed order, pass or fail, with measured vs allowed: the bounds are the
 * manifest's for the runtime that ran. `device` null: the model did not run: only the file check can be made. A
 * runtime the manifest has no thresholds for fails, naming the ones it has: nothing is measured against a guess.
 */
export function regressionChecks(options: RegressionCheckOptions): CheckResult[] {
  const filesCheck = fileCheck(options.files);
  const { device, manifest, runtime } = options;
  if (device === null) return [filesCheck];
  const thresholds = Object.hasOwn(manifest.thresholds.runtimes, runtime)
    ? manifest.thresholds.runtimes[runtime as ThresholdRuntime]
    : undefined;
  if (thresholds === undefined) {
    const recorded = Object.keys(manifest.thresholds.runtimes);
    return [
      filesCheck,
      {
        name: `the manifest holds thresholds for ${runtime}`,
        ok: false,
        measured: 'none',
        allowed: 'thresholds for the runtime that ran',
        details: {
          runtime,
          recorded,
          fix: `verify with --runtime ${recorded.join(' or --runtime ')}, or rebuild the bundle where ${runtime} runs`,
        },
      },
    ];
  }
  const run: DeviceRun = { ...options, device, thresholds };
  return [
    filesCheck,
    ...[referenceAgreementCheck, fp32AgreementCheck, cosineCheck, accuracyCheck, deviationCheck].map((check) => {
      // Each check's own time, for JUnit; the caller adds the hashing and the golden-set run it measured.
      const started = performance.now();
      const result = check(run);
      return { ...result, durationMs: performance.now() - started };
    }),
  ];
}

function fileCheck(files: FileCheck[]): CheckResult {
  const badFiles = files.filter((f) => !f.ok);
  return {
    name: "bundle files match the manifest's sha256",
    ok: badFiles.length === 0,
    measured: badFiles.length,
    allowed: '0 files differing',
    bound: { metric: 'filesDiffering', max: 0, unit: 'files' },
    details: {
      files: files.length,
      ...(badFiles.length ? { differing: badFiles.map((f) => `${f.file}: ${f.problem}`) } : {}),
    },
  };
}

function referenceAgreementCheck({ thresholds, golden, device }: DeviceRun): CheckResult {
  const agreement = top1Agreement(device, golden.reference);
  return {
    name: `top-1 agreement with build-time ${golden.referenceName}`,
    ok: agreement >= thresholds.minReferenceAgreement,
    measured: round(agreement, 2),
    ...atLeast('referenceAgreement', thresholds.minReferenceAgreement, '%'),
    details: { images: golden.index.count, flipped: flipped(device, golden.reference) },
  };
}

function fp32AgreementCheck({ thresholds, golden, device }: DeviceRun): CheckResult {
  const fp32Agreement = top1Agreement(device, golden.fp32);
  const threshold = thresholds.minAgreement;
  return {
    name: 'top-1 agreement with build-time fp32',
    ok: fp32Agreement >= threshold,
    measured: round(fp32Agreement, 2),
    ...atLeast('agreement', threshold, '%'),
    details: { images: golden.index.count, flipped: flipped(device, golden.fp32) },
  };
}

function cosineCheck({ thresholds, golden, device }: DeviceRun): CheckResult {
  const cosine = meanCosine(device, golden.fp32);
  const threshold = thresholds.minCosine;
  return {
    name: 'mean logit cosine with build-time fp32',
    ok: cosine >= threshold,
    measured: round(cosine, 4),
    ...atLeast('cosine', threshold, null),
    details: { images: golden.index.count },
  };
}

function accuracyCheck({ manifest, thresholds, golden, device }: DeviceRun): CheckResult {
  const name = 'top-1 accuracy on the labelled golden inputs';
  const labels = golden.index.labels;
  const threshold = thresholds.minTop1;
  if (labels === null || threshold === null) {
    return { name, ok: true, measured: null, allowed: 'n/a', skip: 'the golden set has no labels' };
  }
  const top1 = topKAccuracy(device, labels, 1);
  // The same paired wording as eval and the build: build-time fp32 → this device, on the golden images.
  const paired = pairedTop1FromLogits({ fp32: golden.fp32, int8: device, labels });
  return {
    name,
    ok: top1 >= threshold,
    measured: round(top1, 2),
    ...atLeast('top1', threshold, '%'),
    details: {
      images: golden.index.count,
      buildTime: manifest.accuracy.int8?.top1 ?? manifest.accuracy.fp32.top1,
      ...(paired
        ? {
            fp32ToDevice: pairedText(paired),
            rightToWrong: paired.rightToWrong,
            wrongToRight: paired.wrongToRight,
            interval95: [paired.interval.low, paired.interval.high],
          }
        : {}),
    },
  };
}

function deviationCheck({ thresholds, golden, device, runtime }: DeviceRun): CheckResult {
  const deviation = maxAbsDeviation(device.data, golden.reference.data);
  return {
    name: `max logit deviation from build-time ${golden.referenceName}`,
    ok: deviation <= thresholds.maxLogitDeviation,
    measured: round(deviation, 4),
    ...atMost('logitDeviation', thresholds.maxLogitDeviation, null),
    details: { runtime, basis: thresholds.basis },
  };
}
