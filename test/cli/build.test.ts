import t, { type Test } from 'tap';
import { chmodSync, cpSync, mkdirSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { writeModelFile } from '../../toolkit/onnx/write.js';
import { floatsFromBytes } from '../../toolkit/bundle/golden.js';
import type { BundleManifest } from '../../toolkit/bundle/manifest.js';
import { tinyModel } from '../onnx/fixtures/models.js';
import { CIFAR_B0 } from '../helpers/paths.js';
import { runCli, type CliResult } from '../helpers/cli.js';

const dir = t.testdir();
const filesOf = (root: string): string[] =>
  readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .sort();

/** The demo build's summary lines and files. */
function checkDemoBuilt(t: Test, result: CliResult, out: string, target: string): void {
  t.equal(result.code, 0, result.stderr);
  t.equal(result.stderr, '');
  t.match(
    result.stdout,
    new RegExp(`^built ${out} for ${target} \\(int8\\) from embedded demo \\(CIFAR-10 EfficientNet-B0\\)\\n`),
  );
  t.match(
    result.stdout,
    /\n {2}top-1 \d+\.\d\d % → \d+\.\d\d % \([−+]\d+\.\d\d points, 95 % interval [−+]\d+\.\d\d…[−+]\d+\.\d\d; \d+ right→wrong, \d+ wrong→right of 80\) held out; agreement \d+\.\d\d %, logit cosine 0\.\d{4}; runtime onnxruntime \(the golden set's reference logits too\)\n/,
  );
  t.match(
    result.stdout,
    '\n  warning: 80 evaluation images, fewer than 100: top-1 and agreement on so few are mostly noise; give --eval DIR with at least 100 labelled images (or a --calib folder of 500, 20 % held back)\n',
    'the demo holds back 80 images: the summary says what they can show',
  );
  t.match(
    result.stdout,
    new RegExp(`next:\\n  effnet-edge inspect --bundle ${out}\\n  effnet-edge run --bundle ${out} IMAGE...\\n`),
  );
  t.strictSame(filesOf(out), [
    'calib.cache',
    'golden/fp32.f32',
    'golden/golden.json',
    'golden/inputs.f32',
    'golden/int8.f32',
    'manifest.json',
    'model.fp32.onnx',
    'model.int8.onnx',
    'model.ort-int8.onnx',
    'ranges.json',
    'report.html',
  ]);
}

/** The demo bundle's manifest: target, model hash, accuracy, engine key. */
function checkDemoManifest(t: Test, out: string, target: string): void {
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as BundleManifest;
  t.equal(manifest.schema, 'effnet-edge/bundle@2');
  t.equal(manifest.target.name, target);
  t.equal(
    manifest.model.source === 'onnx' && manifest.model.sha256,
    '0f1813a44f301285b64cddb8fc62d4c5a4ba9f035d8cc47e30e4d6e814218612',
  );
  t.equal(manifest.classes?.length, 10);
  t.equal(manifest.accuracy.images, 80);
  t.ok(manifest.accuracy.agreement! >= 90, `agreement ${manifest.accuracy.agreement}`);
  t.ok(
    Math.abs(manifest.accuracy.int8!.top1! - manifest.accuracy.fp32.top1!) <= 5,
    'int8 within 5 points on 80 images',
  );
  t.equal(manifest.golden.count, 32);
  t.strictSame(manifest.engine.keyFields, [
    'onnxSha256',
    'tensorrtVersion',
    'sm',
    'dlaCore',
    'precision',
    'quantization',
    'calibrationSha256',
  ]);
  t.equal(manifest.engine.onnxSha256, manifest.files['model.int8.onnx']!.sha256);
  t.notOk(JSON.stringify(manifest).includes(dir), 'no absolute paths in the manifest');
}

/** The demo bundle's golden set and report, and no temporary folder left behind. */
function checkDemoGoldenAndReport(t: Test, out: string): void {
  const golden = JSON.parse(readFileSync(join(out, 'golden/golden.json'), 'utf8')) as {
    inputShape: number[];
    labels: number[];
  };
  t.strictSame(golden.inputShape, [32, 3, 32, 32]);
  t.equal(floatsFromBytes(readFileSync(join(out, 'golden/inputs.f32'))).length, 32 * 3 * 32 * 32);
  t.equal(floatsFromBytes(readFileSync(join(out, 'golden/int8.f32'))).length, 32 * 10);
  t.equal(golden.labels.length, 32);
  t.match(
    readFileSync(join(out, 'report.html'), 'utf8'),
    /<h1>effnet-edge build: embedded demo \(CIFAR-10 EfficientNet-B0\) for cpu-/,
  );
  t.notOk(
    readdirSync(dir).some((f) => f.includes('.partial-')),
    'no temporary folder left behind',
  );
}

/** inspect passes the bundle; a second build refuses to overwrite it; a damaged copy fails inspect, file named. */
async function checkInspectRebuildDamage(t: Test, out: string): Promise<void> {
  const inspect = await runCli(['inspect', '--bundle', out]);
  t.equal(inspect.code, 0, inspect.stderr);
  t.match(inspect.stdout, /\n {2}ok {3}model\.int8\.onnx\n/);
  t.match(inspect.stdout, /deploy will:\n {2}1\. upload 11 files/);
  t.match(inspect.stdout, /\n {2}2\. load model\.int8\.onnx on the device's native int8 engine \(native-int8; /);

  const again = await runCli(['build', '--out', out]);
  t.equal(again.code, 1);
  t.equal(
    again.stderr,
    `effnet-edge build: ${out} already exists; give --force to replace it, or --out another folder\n`,
  );

  // A damaged file fails inspect with the file named.
  const damaged = join(dir, 'damaged');
  cpSync(out, damaged, { recursive: true });
  const cache = readFileSync(join(damaged, 'calib.cache'), 'utf8');
  writeFileSync(
    join(damaged, 'calib.cache'),
    cache.replace(/: ([0-9a-f])/, (_, d: string) => `: ${d === '0' ? '1' : '0'}`),
  );
  const bad = await runCli(['inspect', '--bundle', damaged]);
  t.equal(bad.code, 1);
  t.match(bad.stdout, /\n {2}FAIL calib\.cache: sha256 [0-9a-f]{64}, manifest says [0-9a-f]{64}\n/);
  t.equal(
    bad.stderr,
    `effnet-edge inspect: ${join(damaged, 'calib.cache')}: sha256 does not match the manifest; the bundle is damaged: rebuild it with effnet-edge build\n`,
  );
}

t.test('build with no arguments bundles the embedded demo for this CPU, and inspect passes', async (t) => {
  const out = join(dir, 'demo');
  const result = await runCli(['build', '--out', out]);
  const target = process.arch === 'arm64' ? 'cpu-arm64' : 'cpu-x86_64';
  checkDemoBuilt(t, result, out, target);
  checkDemoManifest(t, out, target);
  checkDemoGoldenAndReport(t, out);
  await checkInspectRebuildDamage(t, out);
});

t.test('same inputs, byte-identical bundle; --force replaces an existing one', async (t) => {
  const build = (out: string, ...extra: string[]) =>
    runCli(['build', '--out', out, '--search-count', '8', '--calib-count', '40', '--golden', '8', '--quiet', ...extra]);
  const [a, b] = [join(dir, 'a'), join(dir, 'b')];
  t.equal((await build(a)).code, 0);
  const second = await build(b);
  t.equal(second.code, 0);
  t.equal(second.stdout, '', '--quiet prints nothing on success');
  t.strictSame(filesOf(a), filesOf(b));
  for (const file of filesOf(a))
    t.ok(readFileSync(join(a, file)).equals(readFileSync(join(b, file))), `${file} identical`);
  writeFileSync(join(b, 'stale.txt'), 'from before');
  t.equal((await build(b, '--force')).code, 0);
  t.notOk(existsSync(join(b, 'stale.txt')), 'the old bundle was replaced as a whole');
});

t.test('build errors: an unknown target, and int8 on a board without a fast int8 path', async (t) => {
  const unknown = await runCli(['build', '--target', 'jetson-tx2', '--model', 'm.onnx', '--calib', 'c']);
  t.equal(unknown.code, 1);
  t.equal(
    unknown.stderr,
    "effnet-edge build: unknown target 'jetson-tx2'; valid targets: cpu-arm64, cpu-x86_64, jetson-agx-orin, jetson-agx-xavier, jetson-nano, jetson-orin-nano, jetson-orin-nx, jetson-xavier-nx, npu-generic, jetson (= jetson-orin-nano)\n",
  );
  const nano = await runCli([
    'build',
    '--target',
    'jetson-nano',
    '--model',
    join(CIFAR_B0, 'model.onnx'),
    '--calib',
    join(CIFAR_B0, 'calib'),
    '--precision',
    'int8',
  ]);
  t.equal(nano.code, 1);
  t.equal(
    nano.stderr,
    'effnet-edge build: jetson-nano (SM 5.3) has no fast int8 path; TensorRT would run int8 slower than fp16 there. Build with --precision fp16\n',
  );
});

t.test('build errors: a model that is not an EfficientNet, a folder without images', async (t) => {
  const tiny = join(dir, 'tiny.onnx');
  await writeModelFile({ model: tinyModel(), path: tiny });
  const notEffnet = await runCli([
    'build',
    '--target',
    'cpu-x86_64',
    '--model',
    tiny,
    '--calib',
    join(CIFAR_B0, 'calib'),
  ]);
  t.equal(notEffnet.code, 1);
  t.equal(
    notEffnet.stderr,
    `effnet-edge build: ${tiny}: not an EfficientNet-style classifier; expected MBConv blocks (depthwise conv, SE, SiLU) and one [batch, classes] output, found 0 MBConv blocks, 1 output(s) ('y' [1, 5])\n`,
  );
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  const noImages = await runCli([
    'build',
    '--target',
    'cpu-x86_64',
    '--model',
    join(CIFAR_B0, 'model.onnx'),
    '--calib',
    empty,
  ]);
  t.equal(noImages.code, 1);
  t.equal(
    noImages.stderr,
    `effnet-edge build: ${empty}: no images found (looked for .jpg, .jpeg, .png, .webp, .tif, .tiff in all sub-folders)\n`,
  );
  chmodSync(empty, 0o755);
});

t.test('build errors: images that do not fit the model, an output that cannot be written, no model', async (t) => {
  const resolution = await runCli([
    'build',
    '--target',
    'cpu-x86_64',
    '--variant',
    'b0',
    '--resolution',
    '64',
    '--num-classes',
    '10',
    '--calib',
    join(CIFAR_B0, 'calib'),
  ]);
  t.equal(resolution.code, 1);
  t.match(
    resolution.stderr,
    /^effnet-edge build: .*\.jpg: image is 32x32 but the model takes 64x64; use --preset torchvision or --resize\/--crop\n$/,
  );
  const blocker = join(dir, 'a-file');
  writeFileSync(blocker, '');
  const notWritable = await runCli([
    'build',
    '--out',
    join(blocker, 'bundle'),
    '--search-count',
    '0',
    '--calib-count',
    '20',
    '--golden',
    '4',
  ]);
  t.equal(notWritable.code, 1);
  t.equal(
    notWritable.stderr,
    `effnet-edge build: ${blocker}: output folder is not writable; choose another with --out\n`,
  );
  const usage = await runCli(['build', '--target', 'cpu-x86_64', '--calib', join(CIFAR_B0, 'calib')]);
  t.equal(usage.code, 2);
  t.equal(
    usage.stderr,
    "effnet-edge build: give --model M.onnx (a trained export) or --variant bN [--weights W.safetensors]\nRun 'effnet-edge build --help' for usage.\n",
  );
});

t.test(
  'build corrects biases by default, on --bias-correction-count fit images, and checks it on the others',
  async (t) => {
    const out = join(dir, 'corrected');
    const result = await runCli(
      ['build', '--out', out, '--search-count', '0', '--calib-count', '60', '--golden', '4', '--quiet'].concat([
        '--bias-correction-count',
        '12',
      ]),
    );
    t.equal(result.code, 0, result.stderr);
    const passes = (JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as BundleManifest).calibration!.passes;
    t.match(
      passes.find((p) => p.startsWith('biases corrected')),
      /^biases corrected: 82 layers, mean \|shift\| \d\.\d\de-\d+$/,
    );
    t.match(
      passes.find((p) => p.startsWith('corrected biases')),
      /^corrected biases (applied|not applied, worse than the uncorrected ones on the check images): logit cosine 0\.\d{4} → 0\.\d{4} on 12 fit images, 0\.\d{4} → 0\.\d{4} on 16 check images /,
    );
    const usage = (flags: string[]) => runCli(['build', '--out', join(dir, 'stray'), ...flags]);
    for (const [flags, message] of [
      [
        ['--method', 'minmax', '--bias-correction-count', '12'],
        '--bias-correction-count goes with --method auto or --bias-correction',
      ],
      [
        ['--no-bias-correction', '--bias-correction-count', '12'],
        '--bias-correction-count goes without --no-bias-correction',
      ],
      [
        ['--no-bias-correction', '--bias-correction'],
        '--bias-correction and --no-bias-correction contradict each other; give one',
      ],
    ] as const) {
      const stray = await usage([...flags]);
      t.equal(stray.code, 2, flags.join(' '));
      t.equal(stray.stderr, `effnet-edge build: ${message}\nRun 'effnet-edge build --help' for usage.\n`);
    }
    t.notOk(existsSync(join(dir, 'stray')), 'usage errors write nothing');
  },
);
