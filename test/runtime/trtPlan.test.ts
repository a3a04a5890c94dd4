import t from 'tap';
import { allTargets } from '../../targets/load.js';
import { flagMessageOf } from '../helpers/fieldErrors.js';
import {
  DLA_SE_NOTE,
  batchSlicesFor,
  cacheHeaderFor,
  encodedTrtVersion,
  engineBuildPlanFor,
  trtFeaturesOf,
  trtReleaseFrom,
  type EngineBuildPlanOptions,
} from '../../toolkit/runtime/trtPlan.js';

// Every release a target names, and the newest 10.x and 11.x tags of NVIDIA/TensorRT (their headers' values).
const RELEASES = {
  '8.0.1': {
    encoded: 8001,
    header: 'TRT-8001-EntropyCalibration2',
    implicitInt8: true,
    weakTyping: true,
    inspector: false,
  },
  '8.2.1': {
    encoded: 8201,
    header: 'TRT-8201-EntropyCalibration2',
    implicitInt8: true,
    weakTyping: true,
    inspector: true,
  },
  '8.5.2': {
    encoded: 8502,
    header: 'TRT-8502-EntropyCalibration2',
    implicitInt8: true,
    weakTyping: true,
    inspector: true,
  },
  '8.6.2': {
    encoded: 8602,
    header: 'TRT-8602-EntropyCalibration2',
    implicitInt8: true,
    weakTyping: true,
    inspector: true,
  },
  '10.3.0': {
    encoded: 100300,
    header: 'TRT-100300-EntropyCalibration2',
    implicitInt8: true,
    weakTyping: true,
    inspector: true,
  },
  '10.16.0': {
    encoded: 101600,
    header: 'TRT-101600-EntropyCalibration2',
    implicitInt8: true,
    weakTyping: true,
    inspector: true,
  },
  '11.1.0': {
    encoded: 110100,
    header: 'TRT-110100-EntropyCalibration2',
    implicitInt8: false,
    weakTyping: false,
    inspector: true,
  },
} as const;

t.test('versions as TensorRT encodes them, and the cache header the device accepts', async (t) => {
  for (const [text, expected] of Object.entries(RELEASES)) {
    const release = trtReleaseFrom(text);
    t.equal(encodedTrtVersion(release), expected.encoded, `${text} encodes as ${expected.encoded}`);
    t.equal(cacheHeaderFor(release), expected.header);
    t.strictSame(
      trtFeaturesOf(release),
      { implicitInt8: expected.implicitInt8, weakTyping: expected.weakTyping, inspector: expected.inspector },
      `${text} features`,
    );
  }
  t.throws(() => trtReleaseFrom('ten'), {
    message: "'ten' is not a TensorRT version; expected major.minor[.patch], e.g. 8.6.1",
  });
});

t.test('every TensorRT a target names is one the plan knows', async (t) => {
  const named = new Set(allTargets().flatMap((target) => target.tensorrt ?? []));
  for (const version of named) {
    t.ok(
      Object.keys(RELEASES).some((r) => r.startsWith(`${version}.`)),
      `${version} is pinned above`,
    );
  }
});

const plan = (release: string, overrides: Partial<EngineBuildPlanOptions>) =>
  engineBuildPlanFor({
    release: trtReleaseFrom(release),
    precision: 'int8',
    dlaCore: -1,
    hasCalibrationCache: true,
    maxBatch: 8,
    optBatch: 1,
    ...overrides,
  });

t.test('GPU int8: the Q/DQ graph, a dynamic profile tuned for batch 1', async (t) => {
  for (const release of ['8.5.2', '8.6.2', '10.3.0', '10.16.0']) {
    t.strictSame(
      plan(release, {}),
      {
        batch: { min: 1, opt: 1, max: 8 },
        staticBatch: false,
        notes: [],
        graph: 'model.int8.onnx',
        quantMode: 'explicit-qdq',
        typing: 'weak',
        cacheHeader: null,
      },
      release,
    );
  }
  t.strictSame(plan('11.1.0', {}), {
    batch: { min: 1, opt: 1, max: 8 },
    staticBatch: false,
    graph: 'model.int8.onnx',
    quantMode: 'explicit-qdq',
    typing: 'strong',
    cacheHeader: null,
    notes: [
      'TensorRT 11.1.0 builds strongly typed networks: the layers the Q/DQ graph leaves in float (SiLU, SE, head) run in fp32, not fp16',
    ],
  });
  t.strictSame(plan('10.3.0', { optBatch: 4 }).batch, { min: 1, opt: 4, max: 8 });
});

t.test('DLA int8: implicit from the retagged cache, a static batch, SE pools on the GPU', async (t) => {
  t.strictSame(plan('8.5.2', { dlaCore: 0, maxBatch: 1 }), {
    batch: { min: 1, opt: 1, max: 1 },
    staticBatch: true,
    notes: [DLA_SE_NOTE],
    graph: 'model.fp32.onnx',
    quantMode: 'implicit-cache',
    typing: 'weak',
    cacheHeader: 'TRT-8502-EntropyCalibration2',
  });
  t.strictSame(
    plan('10.3.0', { dlaCore: 1, maxBatch: 4, optBatch: 1 }).batch,
    { min: 4, opt: 4, max: 4 },
    'min = opt = max on DLA',
  );
  t.equal(plan('10.3.0', { dlaCore: 1 }).cacheHeader, 'TRT-100300-EntropyCalibration2');
  t.equal(
    plan('8.6.2', { dlaCore: 0, hasCalibrationCache: false }).quantMode,
    'explicit-qdq',
    'no cache in the bundle: the Q/DQ graph',
  );
  const eleven = plan('11.1.0', { dlaCore: 0 });
  t.strictSame([eleven.graph, eleven.quantMode, eleven.typing], ['model.int8.onnx', 'explicit-qdq', 'strong']);
  t.match(
    eleven.notes.join('\n'),
    /TensorRT 11\.1\.0 has no implicit int8: the DLA engine is built from the Q\/DQ graph, which was never run on a DLA/,
  );
  t.match(DLA_SE_NOTE, /GlobalAveragePool/);
});

t.test('fp16 and fp32', async (t) => {
  t.strictSame(
    [plan('8.6.2', { precision: 'fp16' }).graph, plan('8.6.2', { precision: 'fp16' }).typing],
    ['model.fp32.onnx', 'weak'],
    'fp16 by builder flag',
  );
  t.strictSame(
    [plan('11.1.0', { precision: 'fp16' }).graph, plan('11.1.0', { precision: 'fp16' }).typing],
    ['fp16 from model.fp32.onnx', 'strong'],
    '11: an fp16 graph',
  );
  t.strictSame(
    [plan('11.1.0', { precision: 'fp32' }).graph, plan('11.1.0', { precision: 'fp32' }).typing],
    ['model.fp32.onnx', 'strong'],
  );
  t.equal(plan('8.5.2', { precision: 'fp16', dlaCore: 0 }).staticBatch, true);
  t.throws(() => plan('8.6.2', { precision: 'fp32', dlaCore: 0 }), {
    message: 'DLA runs fp16 and int8 only; build fp32 engines for the GPU (leave out --dla-core)',
  });
  t.equal(
    await flagMessageOf(() => plan('8.6.2', { optBatch: 9 }), { field: 'optBatch', flag: '--opt-batch' }),
    '--opt-batch is 9; expected an integer from 1 to the largest batch (8)',
  );
  t.equal(
    await flagMessageOf(() => plan('8.6.2', { maxBatch: 0 }), { field: 'maxBatch', flag: '--max-batch' }),
    '--max-batch expects a positive integer, got 0',
  );
});

t.test("batches cut into the engine's, the tail padded for static (DLA) engines", async (t) => {
  t.strictSame(batchSlicesFor({ batch: 10, maxBatch: 4, staticBatch: false }), [
    { first: 0, count: 4, run: 4 },
    { first: 4, count: 4, run: 4 },
    { first: 8, count: 2, run: 2 },
  ]);
  t.strictSame(batchSlicesFor({ batch: 10, maxBatch: 4, staticBatch: true }), [
    { first: 0, count: 4, run: 4 },
    { first: 4, count: 4, run: 4 },
    { first: 8, count: 2, run: 4 },
  ]);
  t.strictSame(batchSlicesFor({ batch: 1, maxBatch: 8, staticBatch: true }), [{ first: 0, count: 1, run: 8 }]);
  t.strictSame(batchSlicesFor({ batch: 3, maxBatch: 1, staticBatch: true }), [
    { first: 0, count: 1, run: 1 },
    { first: 1, count: 1, run: 1 },
    { first: 2, count: 1, run: 1 },
  ]);
});

t.test('the int8 quantization mode can be chosen: implicit on the GPU, explicit on DLA', async (t) => {
  const implicit = plan('8.6.2', { quantization: 'implicit' });
  t.strictSame(
    [implicit.graph, implicit.quantMode, implicit.typing, implicit.cacheHeader, implicit.staticBatch],
    ['model.fp32.onnx', 'implicit-cache', 'weak', 'TRT-8602-EntropyCalibration2', false],
  );
  t.equal(plan('8.6.2', { dlaCore: 0, quantization: 'explicit' }).quantMode, 'explicit-qdq');
  t.throws(() => plan('11.1.0', { quantization: 'implicit' }), {
    message:
      'TensorRT 11.1.0 has no implicit int8 (calibrators were removed in 11); build with the Q/DQ graph (--quantization explicit)',
  });
  t.throws(() => plan('10.3.0', { quantization: 'implicit', hasCalibrationCache: false }), {
    message:
      "implicit int8 needs the bundle's calibration cache, and this bundle has none; rebuild it with effnet-edge build",
  });
  t.equal(
    plan('10.3.0', { quantization: 'implicit', precision: 'fp16' }).quantMode,
    'explicit-qdq',
    'float precisions ignore it',
  );
});
