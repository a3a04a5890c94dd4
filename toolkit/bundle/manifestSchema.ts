/**
 * The bundle manifest's schema: a bundle is untrusted input (it travels between machines and is deployed over SSH),
 * so every field is declared here and checked when the manifest is read, before anything uses it. File names in
 * particular are plain relative names inside the bundle: letters, digits, `.`, `_`, `-` and `/` between segments,
 * no segment starting with `.` (so no `..`, no hidden files), no absolute path, no two names differing only in case.
 */
import { z } from 'zod';
import { VARIANT_NAMES } from '../model/variants.js';

// @2: thresholds per runtime (thresholds.runtimes); a bundle@1 is refused with the rebuild message.
export const BUNDLE_SCHEMA = 'effnet-edge/bundle@2';
export const MANIFEST_FILE = 'manifest.json';

const SEGMENT = '[A-Za-z0-9_][A-Za-z0-9._-]{0,127}';
const BUNDLE_FILE = new RegExp(`^${SEGMENT}(?:/${SEGMENT}){0,7}$`);

/** A file named by a bundle: relative, inside it, in the characters above. */
export const bundleFileName = z.string().regex(BUNDLE_FILE, {
  error:
    'a plain relative file name inside the bundle (letters, digits, . _ - and / between segments; no segment starting with a dot, no absolute path)',
});

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, { error: '64 lowercase hex digits (a sha256)' });
const percent = z.number().min(0).max(100);
const precision = z.enum(['int8', 'fp16', 'fp32']);
const smVersion = z.string().regex(/^\d{1,2}\.\d{1,2}$/, { error: "a compute capability like '8.7'" });
const finite = z.number().finite();

const calibratorSettings = z.strictObject({
  method: z.enum(['minmax', 'percentile', 'entropy', 'mse']),
  percentile: z.number().gt(0).max(100).optional(),
  bins: z
    .int()
    .min(16)
    .max(1 << 16)
    .optional(),
  quantizedBins: z
    .int()
    .min(2)
    .max(1 << 12)
    .optional(),
});

/** Mean and std per channel: std must be positive or every input becomes infinite. */
const preprocessing = z.strictObject({
  preset: z.enum(['torchvision', 'direct', 'custom']),
  resize: z.int().min(1).max(8192).nullable(),
  crop: z.int().min(1).max(8192).nullable(),
  interpolation: z.enum(['nearest', 'bilinear', 'bicubic', 'lanczos3']),
  scale: finite.positive(),
  mean: z.tuple([finite, finite, finite]),
  std: z.tuple([finite.positive(), finite.positive(), finite.positive()]),
  channelOrder: z.enum(['RGB', 'BGR']),
});

/** The runtimes a bundle can carry thresholds for (`ort-int8`: ONNX Runtime on the QOperator graph). */
export const THRESHOLD_RUNTIMES = ['onnxruntime', 'ort-int8', 'native-int8', 'tensorrt'] as const;
export type ThresholdRuntime = (typeof THRESHOLD_RUNTIMES)[number];

const bounds = {
  minAgreement: percent,
  minCosine: z.number().min(-1).max(1),
  minTop1: percent.nullable(),
  minReferenceAgreement: percent,
  maxLogitDeviation: finite.min(0),
};

/** One runtime's bounds, and where they came from: its own golden-set run at build time, or an estimate and why. */
const runtimeThresholds = z.discriminatedUnion('basis', [
  z.strictObject({
    basis: z.literal('measured'),
    measured: z.strictObject({
      agreement: percent,
      cosine: z.number().min(-1).max(1),
      top1: percent.nullable(),
      referenceAgreement: percent,
      maxLogitDeviation: finite.min(0),
    }),
    ...bounds,
  }),
  z.strictObject({ basis: z.literal('estimated'), why: z.string().min(1).max(500), ...bounds }),
]);

/** Whether the native int8 engine can run the bundle's model: an int8 CPU bundle (the onnxruntime Q/DQ placement). */
export function nativeInt8Fits(manifest: {
  target: { runtime: string };
  calibration: { profile: string } | null;
  files: Record<string, unknown>;
}): boolean {
  return (
    manifest.target.runtime === 'onnxruntime' &&
    manifest.calibration?.profile === 'onnxruntime' &&
    Object.hasOwn(manifest.files, 'model.int8.onnx')
  );
}

/** The QOperator graph of a CPU bundle's int8 model, which the `ort-int8` runtime runs. */
export const ORT_INT8_FILE = 'model.ort-int8.onnx';

/** The runtimes that can run this bundle, so the ones its manifest must hold thresholds for. */
export function thresholdRuntimesOf(manifest: Parameters<typeof nativeInt8Fits>[0]): ThresholdRuntime[] {
  if (manifest.target.runtime === 'tensorrt') return ['tensorrt', 'onnxruntime'];
  return [
    'onnxruntime',
    ...(Object.hasOwn(manifest.files, ORT_INT8_FILE) ? (['ort-int8'] as const) : []),
    ...(nativeInt8Fits(manifest) ? (['native-int8'] as const) : []),
  ];
}

const top = z.strictObject({ top1: percent.nullable(), top5: percent.nullable() });

export const manifestSchema = z
  .strictObject({
    schema: z.literal(BUNDLE_SCHEMA),
    toolkit: z.strictObject({ name: z.literal('effnet-edge'), version: z.string().regex(/^\d+\.\d+\.\d+[\w.+-]*$/) }),
    target: z.strictObject({
      name: z
        .string()
        .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, { error: 'a target name (lowercase letters, digits, _ and -)' }),
      runtime: z.enum(['tensorrt', 'onnxruntime']),
      sm: smVersion.nullable(),
      dlaCores: z.int().min(0).max(16),
      precision,
    }),
    model: z.discriminatedUnion('source', [
      z.strictObject({
        source: z.literal('onnx'),
        file: z
          .string()
          .min(1)
          .max(255)
          .regex(/^[^/\\\0]+$/, { error: 'a file name without a folder' }),
        sha256,
      }),
      z.strictObject({
        source: z.literal('variant'),
        variant: z.enum(VARIANT_NAMES),
        weightsSha256: sha256.nullable(),
        seed: z.int().nullable(),
      }),
    ]),
    inputSize: z.int().min(1).max(4096),
    classes: z.array(z.string().max(256)).min(1).max(100_000).nullable(),
    preprocessing,
    calibration: z
      .strictObject({
        calibrator: calibratorSettings,
        images: z.int().min(1),
        profile: z.enum(['tensorrt', 'onnxruntime', 'npu']),
        weightRange: z.enum(['full', 'reduced']),
        search: z.strictObject({ images: z.int().min(1), steps: z.int().min(1) }).nullable(),
        passes: z.array(z.string().max(1000)).max(1000),
      })
      .nullable(),
    accuracy: z.strictObject({
      images: z.int().min(0),
      labelled: z.int().min(0),
      fp32: top,
      int8: top.nullable(),
      agreement: percent.nullable(),
      cosine: z.number().min(-1).max(1).nullable(),
    }),
    thresholds: z.strictObject({
      largestLogit: finite.min(0),
      runtimes: z.partialRecord(z.enum(THRESHOLD_RUNTIMES), runtimeThresholds),
    }),
    golden: z.strictObject({ count: z.int().min(1).max(100_000), index: bundleFileName }),
    engine: z.strictObject({
      keyFields: z.array(z.string().max(64)).max(32),
      onnx: bundleFileName,
      onnxSha256: sha256,
      calibration: bundleFileName.nullable(),
      calibrationSha256: sha256.nullable(),
      precision,
      sm: smVersion.nullable(),
      dlaCores: z.int().min(0).max(16),
      workspaceMiB: z
        .int()
        .min(1)
        .max(1 << 20)
        .nullable(),
    }),
    files: z.record(
      bundleFileName,
      z.strictObject({
        sha256,
        size: z
          .int()
          .min(0)
          .max(2 ** 40),
      }),
    ),
  })
  .superRefine((manifest, context) => {
    const names = Object.keys(manifest.files);
    const seen = new Map<string, string>();
    for (const name of names) {
      const folded = name.toLowerCase();
      if (name === MANIFEST_FILE)
        context.addIssue({ code: 'custom', path: ['files', name], message: 'the manifest cannot list itself' });
      if (seen.has(folded))
        context.addIssue({
          code: 'custom',
          path: ['files', name],
          message: `names the same file as '${seen.get(folded)}' on a case-insensitive disk`,
        });
      seen.set(folded, name);
    }
    // A folder and a file of the same name cannot both exist: `a` and `a/b`.
    for (const name of names) {
      const parent = name
        .split('/')
        .slice(0, -1)
        .map((_, i, parts) => parts.slice(0, i + 1).join('/'))
        .find((p) => seen.has(p.toLowerCase()));
      if (parent !== undefined)
        context.addIssue({
          code: 'custom',
          path: ['files', name],
          message: `lies inside '${parent}', which is listed as a file`,
        });
    }
    const listed = (field: (string | number)[], name: string | null) => {
      if (name !== null && !(name in manifest.files))
        context.addIssue({
          code: 'custom',
          path: field,
          message: `names '${name}', which the manifest's files do not list`,
        });
    };
    listed(['engine', 'onnx'], manifest.engine.onnx);
    listed(['engine', 'calibration'], manifest.engine.calibration);
    listed(['golden', 'index'], manifest.golden.index);
    for (const runtime of thresholdRuntimesOf(manifest)) {
      if (!manifest.thresholds.runtimes[runtime])
        context.addIssue({
          code: 'custom',
          path: ['thresholds', 'runtimes'],
          message: `has no thresholds for ${runtime}, which runs this bundle; rebuild the bundle with effnet-edge build`,
        });
    }
    if (manifest.engine.precision !== manifest.target.precision) {
      context.addIssue({
        code: 'custom',
        path: ['engine', 'precision'],
        message: `is '${manifest.engine.precision}' but target.precision is '${manifest.target.precision}'`,
      });
    }
  });

export type BundleManifest = z.output<typeof manifestSchema>;
export type Accuracy = BundleManifest['accuracy'];
export type Thresholds = BundleManifest['thresholds'];
export type RuntimeThresholds = z.output<typeof runtimeThresholds>;
