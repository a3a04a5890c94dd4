import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { trtCacheFromText } from '../../calibration/calibrate/trtCache.js';
import { rangesFromDocument } from '../../calibration/calibrate/rangesFile.js';
import { modelFromFile } from '../../toolkit/onnx/read.js';
import { floatActivationsOf, preparedFp32From } from '../../toolkit/quant/quantize.js';
import { CIFAR_B0 } from '../helpers/paths.js';
import { runCli } from '../helpers/cli.js';

const dir = t.testdir();
const int8 = join(dir, 'q.onnx');

t.test('quantize calibrates on the fixture and writes the model, ranges and a TensorRT cache', async (t) => {
  const result = await runCli([
    'quantize',
    '--model',
    join(CIFAR_B0, 'model.onnx'),
    '--calib',
    join(CIFAR_B0, 'calib'),
    '--out',
    int8,
    '--cache',
    join(dir, 'calib.cache'),
    '--ranges',
    join(dir, 'ranges.json'),
    '--json',
  ]);
  t.equal(result.code, 0, result.stderr);
  t.equal(result.stderr, '');
  const json = JSON.parse(result.stdout) as {
    images: number;
    profile: string;
    calibrator: { method: string };
    calibratorScores: unknown[];
    passes: { summary: string }[];
    blocks: unknown[];
  };
  // 128 of the 1000 are held back to check the data-driven choices on (calibration/images/split.ts).
  t.equal(json.images, 872);
  t.equal(json.profile, 'tensorrt');
  // The default (auto) tries every histogram calibrator on 256 fit images and keeps the closest to fp32 that has not
  // collapsed, unless it is worse than the default percentile on the 128 check images; five candidates are clearly
  // behind after the first 64 images and stop there (the race), which leaves the choice as all 256 made it.
  t.strictSame(json.calibrator, { method: 'percentile', percentile: 99.8 });
  t.equal(json.calibratorScores.length, 8);
  t.strictSame(
    json.passes.map((p) => p.summary),
    [
      'Identity/Dropout removed: 0',
      'BatchNormalization folded into Conv: 0',
      'cross-layer equalisation: 7 groups (16 producing and 16 reading layers, 784 channels)',
      'MBConv blocks: 16 (depthwise 16, SE 16, residual 9), SiLU: 49',
      'calibrators collapsed, int8 logits far from fp32 (cosine < 0.9 or top-1 agreement < 50.0 %), never chosen: percentile 99.999 (cosine 0.8629, agreement 78.1 % on 64 images), mse (cosine 0.8808, agreement 79.7 % on 64 images), entropy (cosine -0.0052, agreement 10.9 % on 64 images), minmax (cosine 0.8892, agreement 78.1 % on 64 images)',
      'calibrators stopped after 64 of 256 images, behind percentile 99.8 beyond the noise (95 % interval of the logit cosine difference): percentile 99.5 (−0.0120…−0.0056), percentile 99.999 (−0.1940…−0.0722), mse (−0.1697…−0.0614), entropy (−1.1348…−0.8449), minmax (−0.1545…−0.0551)',
      'calibrator percentile 99.8 chosen over the default percentile 99.99: logit cosine 0.9212 → 0.9923 on 256 fit images, 0.9019 → 0.9868 on 128 check images (+0.0849, 95 % interval +0.0507…+0.1249)',
      // The search starts from the lowest percentile that did not collapse (99.5), the check compares with 99.8's.
      'activation ranges searched one by one from percentile 99.5 on 128 calibration images: 89 widened, 5 narrowed, 5 kept (single-tensor block-output cosine 0.99894 → 0.99986)',
      'searched ranges applied: logit cosine 0.9838 → 0.9949 on 128 fit images, 0.9868 → 0.9962 on 128 check images (+0.0095, 95 % interval +0.0058…+0.0141)',
      // On all 1000 images matching the means hurts (README: "fragile where clipping shrinks activations"): vetoed.
      'biases corrected: 82 layers, mean |shift| 2.22e-1',
      'corrected biases not applied, worse than the uncorrected ones on the check images: logit cosine 0.9918 → 0.9244 on 256 fit images, 0.9962 → 0.9247 on 128 check images (−0.0716, 95 % interval −0.0851…−0.0582)',
      `Q/DQ inserted (tensorrt): 99 activations, 82 weights per channel (full range)`,
    ],
  );
  t.equal(json.blocks.length, 16);
  const model = await modelFromFile({ path: int8 });
  t.equal(model.graph.nodes.filter((n) => n.opType === 'QuantizeLinear').length, 99 + 82);
  const cache = trtCacheFromText({ text: readFileSync(join(dir, 'calib.cache'), 'utf8'), file: 'calib.cache' });
  t.equal(
    cache.algorithm,
    'EntropyCalibration2',
    'the calibrator that reads caches (trtexec, DLA, the shim), whatever found the ranges',
  );
  t.equal(cache.version, 8601);
  // Implicit int8 runs a tensor without a scale outside int8: every float activation of the fp32 graph gets one.
  const fp32 = preparedFp32From(await modelFromFile({ path: join(CIFAR_B0, 'model.onnx') })).model;
  t.equal(cache.scales.size, 240);
  t.strictSame(
    [...cache.scales.keys()],
    floatActivationsOf(fp32),
    'the input, every conv, Sigmoid, Mul, pool, Flatten output and the logits',
  );
  t.ok(
    [...cache.scales.values()].every((s) => s > 0),
    'no zero scale',
  );
  const ranges = rangesFromDocument({ text: readFileSync(join(dir, 'ranges.json'), 'utf8'), file: 'ranges.json' });
  t.equal(ranges.get('input'), 2.640000104904175, 'the input range is the normalised max (1 − 0.406) / 0.225');
  t.ok(Math.abs(cache.scales.get('input')! - ranges.get('input')! / 127) < 1e-7, 'cache scale = amax / 127');
  t.strictSame(JSON.parse(readFileSync(join(dir, 'ranges.json'), 'utf8')).search, { images: 128, steps: 10 });
});

t.test('a calibrator that beats the best percentile only within the noise is not chosen', async (t) => {
  // This 600-image subset's fit images score mse +0.0009 above percentile 99.8 with the npu placement (the former
  // tensorrt one); mse collapses on all 1000 images, and chosen here it measured 93.75 % agreement on the test images
  // against 96.00 % for percentile 99.8.
  const result = await runCli([
    'quantize',
    ...['--model', join(CIFAR_B0, 'model.onnx'), '--calib', join(CIFAR_B0, 'calib'), '--out', join(dir, 'seed2.onnx')],
    ...['--calib-count', '600', '--seed', '2', '--search-count', '0', '--profile', 'npu', '--json'],
  ]);
  t.equal(result.code, 0, result.stderr);
  const json = JSON.parse(result.stdout) as { calibrator: unknown; passes: { pass: string; summary: string }[] };
  t.strictSame(json.calibrator, { method: 'percentile', percentile: 99.8 });
  t.match(
    json.passes.find((p) => p.pass === 'range-selection-noise')?.summary,
    /^calibrator mse scored higher on the fit images than percentile 99\.8 \(0\.9884 vs 0\.9874\) but within their noise \(\+0\.0010, 95 % interval −\d\.\d{4}…\+\d\.\d{4}\): percentile 99\.8 kept/,
  );
});

t.test('the default quantization is deterministic: same inputs, byte-identical outputs', async (t) => {
  const run = async (name: string) => {
    const out = join(dir, `${name}.onnx`);
    const result = await runCli([
      'quantize',
      '--model',
      join(CIFAR_B0, 'model.onnx'),
      '--calib',
      join(CIFAR_B0, 'calib'),
      '--calib-count',
      '100',
      '--select-count',
      '32',
      '--search-count',
      '16',
      '--out',
      out,
      '--cache',
      join(dir, `${name}.cache`),
    ]);
    t.equal(result.code, 0, result.stderr);
    return [readFileSync(out), readFileSync(join(dir, `${name}.cache`))];
  };
  const [first, again] = [await run('first'), await run('again')];
  t.ok(first[0]!.equals(again[0]!), 'int8 model');
  t.ok(first[1]!.equals(again[1]!), 'calibration cache');
});

t.test('eval measures fp32 vs int8 on the labelled test set', async (t) => {
  const report = join(dir, 'report.html');
  const result = await runCli([
    'eval',
    '--fp32',
    join(CIFAR_B0, 'model.onnx'),
    '--int8',
    int8,
    '--data',
    join(CIFAR_B0, 'test'),
    '--json',
    '--report',
    report,
  ]);
  t.equal(result.code, 0, result.stderr);
  const json = JSON.parse(result.stdout) as {
    fp32: { top1: number; top5: number };
    int8: { top1: number; top5: number };
    agreement: number;
    cosine: number;
    images: number;
    paired: { images: number; fp32Top1: number; int8Top1: number; differencePoints: number; rightToWrong: number };
    warnings: string[];
    layers: { tensor: string; sqnrDb: number }[];
  };
  t.equal(json.images, 2000);
  t.match(json.paired, { images: 2000, fp32Top1: 63.2, int8Top1: json.int8.top1 }, 'the paired numbers, as numbers');
  t.strictSame(json.warnings, [], '2000 images at the default: no warning');
  t.equal(json.fp32.top1, 63.2, 'fp32 top-1 as PyTorch measured it (meta.json)');
  // The default (auto → percentile 99.8, then each range searched on its block; tensorrt placement), calibrated and
  // tuned on the 872 fit images with 128 held back to check the choices, measured 63.25 %, agreement 97.00 %, cosine
  // 0.9958 (95.85 % and 0.9947 before the SE input stayed float). PyTorch FX PTQ gets 62.40 % and 84.3 % agreement on
  // this fixture.
  t.ok(json.int8.top1 >= 63.2 - 1, `int8 top-1 ${json.int8.top1} within 1 point of fp32`);
  t.ok(json.agreement >= 95, `top-1 agreement ${json.agreement} ≥ 95 %`);
  t.ok(json.cosine >= 0.994, `mean cosine ${json.cosine}`);
  t.equal(json.layers.length, 99);
  t.ok(json.layers.every((l) => typeof l.sqnrDb === 'number'));
  t.equal(json.layers[0]!.tensor, 'input');
  t.ok(json.layers[0]!.sqnrDb > 35, `the input quantizes at ${json.layers[0]!.sqnrDb.toFixed(1)} dB`);
  const html = readFileSync(report, 'utf8');
  t.match(
    html,
    new RegExp(`<tr><td>top-1</td><td>63\\.20 %</td><td>${json.int8.top1.toFixed(2).replace('.', '\\.')} %</td></tr>`),
  );
  t.equal((html.match(/<span class="bar (fine|low|poor)"/g) ?? []).length, 99, 'one SQNR bar per quantized tensor');
});

t.test('quantize usage errors', async (t) => {
  const noCalib = await runCli(['quantize', '--model', join(CIFAR_B0, 'model.onnx'), '--out', join(dir, 'x.onnx')]);
  t.equal(noCalib.code, 2);
  t.equal(
    noCalib.stderr,
    "effnet-edge quantize: --calib DIR is required\nRun 'effnet-edge quantize --help' for usage.\n",
  );
  const method = await runCli(['quantize', '--model', 'm.onnx', '--calib', 'c', '--method', 'kl', '--out', 'x.onnx']);
  t.equal(
    method.stderr,
    "effnet-edge quantize: --method expects auto or one of minmax, percentile, entropy, mse, got 'kl'\nRun 'effnet-edge quantize --help' for usage.\n",
  );
  const wrongSize = await runCli([
    'quantize',
    '--model',
    join(CIFAR_B0, 'model.onnx'),
    '--calib',
    join(CIFAR_B0, 'calib'),
    '--method',
    'percentile',
    '--crop',
    '24',
    '--out',
    join(dir, 'x.onnx'),
  ]);
  const search = await runCli([
    'quantize',
    '--model',
    join(CIFAR_B0, 'model.onnx'),
    '--calib',
    join(CIFAR_B0, 'calib'),
    '--method',
    'minmax',
    '--search-count',
    '8',
    '--out',
    join(dir, 'x.onnx'),
  ]);
  t.equal(search.code, 2);
  t.equal(
    search.stderr,
    "effnet-edge quantize: --search-count goes with --method auto\nRun 'effnet-edge quantize --help' for usage.\n",
  );
  t.equal(wrongSize.code, 1);
  t.equal(
    wrongSize.stderr,
    `effnet-edge quantize: ${join(CIFAR_B0, 'calib', 'airplane', '0023.jpg')}: image is 24x24 but the model takes 32x32; use --preset torchvision or --resize/--crop\n`,
  );
});

t.test('--max-drop keeps the most sensitive layers in float, chosen on held-out labelled images', async (t) => {
  const out = join(dir, 'max-drop.onnx');
  const result = await runCli([
    'quantize',
    '--model',
    join(CIFAR_B0, 'model.onnx'),
    '--calib',
    join(CIFAR_B0, 'calib'),
    '--calib-count',
    '200',
    '--method',
    'percentile',
    '--max-drop',
    '0.5',
    '--eval',
    join(CIFAR_B0, 'calib'),
    '--eval-count',
    '200',
    '--out',
    out,
    '--json',
  ]);
  t.equal(result.code, 0, result.stderr);
  const json = JSON.parse(result.stdout) as {
    maxDrop: {
      fp32Top1: number;
      int8Top1: number;
      keptFloat: string[];
      steps: { floatLayers: number; top1: number }[];
      mostSensitive: { node: string; cosine: number }[];
    };
    passes: { pass: string; summary: string }[];
  };
  const { maxDrop } = json;
  t.ok(
    maxDrop.fp32Top1 - maxDrop.int8Top1 <= 0.5,
    `within 0.5 points on the selection images (${maxDrop.fp32Top1} → ${maxDrop.int8Top1})`,
  );
  t.equal(maxDrop.steps.at(-1)!.floatLayers, maxDrop.keptFloat.length);
  t.strictSame(
    maxDrop.keptFloat,
    maxDrop.mostSensitive.slice(0, maxDrop.keptFloat.length).map((s) => s.node),
    'the most sensitive first',
  );
  t.ok(
    maxDrop.mostSensitive.every((s, i, all) => i === 0 || all[i - 1]!.cosine <= s.cosine),
    'sorted by cosine',
  );
  t.equal(
    json.passes.at(-1)!.summary,
    `layers kept in float for a top-1 drop within 0.5 points: ${maxDrop.keptFloat.length}`,
  );
  const model = await modelFromFile({ path: out });
  const kept = new Set(maxDrop.keptFloat);
  const dequantizedInputs = model.graph.nodes
    .filter((n) => kept.has(n.name))
    .flatMap((n) => n.inputs.filter((i) => i.endsWith('.dequantized')));
  t.strictSame(dequantizedInputs, [], 'float layers read no dequantized tensor');
});

t.test('--bias-correction is reported', async (t) => {
  const result = await runCli([
    'quantize',
    '--model',
    join(CIFAR_B0, 'model.onnx'),
    '--calib',
    join(CIFAR_B0, 'calib'),
    '--calib-count',
    '100',
    '--method',
    'percentile',
    '--bias-correction',
    '--bias-correction-count',
    '20',
    '--out',
    join(dir, 'corrected.onnx'),
    '--json',
  ]);
  t.equal(result.code, 0, result.stderr);
  const passes = (JSON.parse(result.stdout) as { passes: { pass: string; summary: string }[] }).passes;
  t.match(
    passes.find((p) => p.pass === 'bias-correction')!.summary,
    /^biases corrected: 82 layers, mean \|shift\| \d\.\d\de[-+]\d+$/,
  );
  // Corrected on 20 of the 75 fit images, scored on those and on the 25 check images.
  t.match(
    passes.find((p) => p.pass === 'bias-correction-check')!.summary,
    /^corrected biases (applied|not applied, worse than the uncorrected ones on the check images): logit cosine 0\.\d{4} → 0\.\d{4} on 20 fit images, 0\.\d{4} → 0\.\d{4} on 25 check images \([−+]\d\.\d{4}, 95 % interval [−+]\d\.\d{4}…[−+]\d\.\d{4}\)$/,
  );
});
