import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { modelFromFile } from '../../toolkit/onnx/read.js';
import { trtCacheFromText } from '../../calibration/calibrate/trtCache.js';
import type { BundleManifest } from '../../toolkit/bundle/manifest.js';
import { CIFAR_B0, REPO_ROOT } from '../helpers/paths.js';
import { runCli } from '../helpers/cli.js';

const dir = t.testdir();

t.test('the shared fixture for jetson-orin-nano: the Q/DQ model and cache the TensorRT issue consumes', async (t) => {
  const out = join(dir, 'orin');
  const result = await runCli([
    'build',
    '--target',
    'jetson-orin-nano',
    '--model',
    join(CIFAR_B0, 'model.onnx'),
    '--calib',
    join(CIFAR_B0, 'calib'),
    '--eval',
    join(CIFAR_B0, 'test'),
    '--out',
    out,
    '--json',
  ]);
  t.equal(result.code, 0, result.stderr);
  const json = JSON.parse(result.stdout) as { accuracy: BundleManifest['accuracy']; target: BundleManifest['target'] };
  t.strictSame(json.target, {
    name: 'jetson-orin-nano',
    runtime: 'tensorrt',
    sm: '8.7',
    dlaCores: 0,
    precision: 'int8',
  });
  t.equal(json.accuracy.images, 2000);
  t.ok(json.accuracy.int8!.top1! >= 63.2 - 0.5, `int8 top-1 ${json.accuracy.int8!.top1}`);
  // Measured 63.25 %, 96.65 % agreement and cosine 0.9959 (build's 512 calibration images: 384 fit, 128 check; the
  // range search raised the check images' cosine 0.9901 → 0.9923). Before the tensorrt placement left the SE input
  // float: 63.65 % and 95.85 %. The floor is the worst case over 5 calibration seeds in the README's table (issue 19),
  // not this run.
  t.ok(json.accuracy.agreement! >= 92, `agreement ${json.accuracy.agreement}`);
  const cache = trtCacheFromText({ text: readFileSync(join(out, 'calib.cache'), 'utf8'), file: 'calib.cache' });
  t.equal(cache.version, 8602);
  t.equal(cache.algorithm, 'EntropyCalibration2');
  t.equal(cache.scales.size, 240, 'every float activation (implicit int8, DLA), not only the 99 Q/DQ points');
  const int8 = await modelFromFile({ path: join(out, 'model.int8.onnx') });
  const initializers = new Set(int8.graph.initializers.map((i) => i.name));
  const quantize = int8.graph.nodes.filter((n) => n.opType === 'QuantizeLinear');
  t.equal(quantize.filter((n) => !initializers.has(n.inputs[0]!)).length, 99, 'activations: tensorrt placement');
  t.equal(
    quantize.filter((n) => initializers.has(n.inputs[0]!)).length,
    82,
    'float weights behind Q/DQ, as TensorRT takes them',
  );
  t.notOk(
    int8.graph.nodes.some((n) => n.opType === 'Sigmoid' && n.inputs[0]!.endsWith('.dequantized')),
    'never a Sigmoid input',
  );

  // No TensorRT here: engine build stops at the shim with the command that builds it.
  const engine = await runCli(['engine', 'build', '--bundle', out]);
  t.equal(engine.code, 1);
  t.match(
    engine.stderr,
    /^effnet-edge engine: the TensorRT shim is not built \(.*libeffnet_trt\.so is missing\); on the Jetson run: effnet-edge native build --tensorrt\n$/,
  );
  const dla = await runCli(['engine', 'build', '--bundle', out, '--dla-core', '0']);
  t.equal(dla.stderr, 'effnet-edge engine: jetson-orin-nano has no DLA cores; --dla-core 0 is not one of them\n');

  // run and bench use TensorRT for this bundle where it loads; here `auto` says why it falls back to ONNX Runtime.
  const cats = join(CIFAR_B0, 'test', 'cat');
  const image = join(cats, readdirSync(cats)[0]!);
  const auto = await runCli(['run', '--bundle', out, '--json', image]);
  t.equal(auto.code, 0, auto.stderr);
  t.equal((JSON.parse(auto.stdout) as { runtime: string }).runtime, 'onnxruntime');
  t.match(
    auto.stderr,
    /^effnet-edge run: TensorRT not found \(the TensorRT shim is not built \(.*\); on the Jetson run: effnet-edge native build --tensorrt\); running the bundle with ONNX Runtime instead \(it simulates the int8 engine's accuracy, not its speed\)\n$/,
  );
  const forced = await runCli(['run', '--bundle', out, '--runtime', 'tensorrt', image]);
  t.equal(forced.code, 1);
  t.match(forced.stderr, /^effnet-edge run: TensorRT not found \(the TensorRT shim is not built/);
  const bench = await runCli(['bench', '--bundle', out, '--runs', '1', '--warmup', '0', '--runtimes', 'tensorrt-int8']);
  t.equal(bench.code, 2);
  t.match(
    bench.stderr,
    /TensorRT is left out of this benchmark\neffnet-edge bench: --runtimes: tensorrt-int8 cannot run here; available: ort-fp32, ort-qdq\nRun 'effnet-edge bench --help' for usage\.\n$/,
  );
});

t.test('engine build refuses bundles for ONNX Runtime targets', async (t) => {
  const out = join(dir, 'cpu');
  const built = await runCli([
    'build',
    '--out',
    out,
    '--search-count',
    '0',
    '--calib-count',
    '20',
    '--golden',
    '4',
    '--quiet',
  ]);
  t.equal(built.code, 0, built.stderr);
  const engine = await runCli(['engine', 'build', '--bundle', out]);
  t.equal(engine.code, 1);
  t.match(
    engine.stderr,
    new RegExp(
      `^effnet-edge engine: ${out} is built for cpu-(x86_64|arm64), which runs ONNX Runtime: there is no TensorRT engine to build`,
    ),
  );
  const forced = await runCli([
    'run',
    '--bundle',
    out,
    '--runtime',
    'tensorrt',
    join(REPO_ROOT, 'demo', 'cifar10-b0', 'eval', 'cat', '0000.jpg'),
  ]);
  t.match(
    forced.stderr,
    /^effnet-edge run: the bundle is built for cpu-(x86_64|arm64), which runs ONNX Runtime; --runtime tensorrt needs a Jetson bundle\n$/,
  );
  const bad = await runCli(['run', '--bundle', out, '--runtime', 'gpu', 'x.jpg']);
  t.equal(bad.code, 2);
  t.equal(
    bad.stderr,
    "effnet-edge run: --runtime expects one of auto, onnxruntime, tensorrt, native-int8, ort-int8, got 'gpu'\nRun 'effnet-edge run --help' for usage.\n",
  );
});
