import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/paths.js';
import { runCli } from '../helpers/cli.js';
import { percentile } from '../../toolkit/device/bench.js';
import { softmax, topKText } from '../../toolkit/cli/commands/run.js';
import { alive, fakeTegrastats } from '../helpers/fakeTegrastats.js';

const dir = t.testdir();
const bundle = join(dir, 'small');
const demoImages = join(REPO_ROOT, 'demo', 'cifar10-b0', 'eval');

t.before(async () => {
  const built = await runCli([
    'build',
    '--out',
    bundle,
    '--search-count',
    '0',
    '--calib-count',
    '20',
    '--golden',
    '4',
    '--quiet',
  ]);
  if (built.code !== 0) throw new Error(built.stderr);
});

t.test('run classifies images with the int8 model: top-k with class names', async (t) => {
  const images = [
    join(demoImages, 'cat', '0000.jpg'),
    join(demoImages, 'ship', (await import('node:fs')).readdirSync(join(demoImages, 'ship'))[0]!),
  ];
  const json = await runCli(['run', '--bundle', bundle, '--json', '--top', '3', ...images]);
  t.equal(json.code, 0, json.stderr);
  const parsed = JSON.parse(json.stdout) as {
    model: string;
    results: { image: string; top: { class: number; name: string; probability: number }[] }[];
  };
  t.equal(parsed.model, 'model.int8.onnx');
  t.equal(parsed.results.length, 2);
  t.equal(parsed.results[0]!.image, images[0]);
  t.equal(parsed.results[0]!.top.length, 3);
  t.ok(
    parsed.results.every((r) =>
      r.top.every(
        (c) =>
          c.name ===
          ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'][c.class],
      ),
    ),
  );
  t.ok(
    parsed.results.every(
      (r) => r.top[0]!.probability >= r.top[1]!.probability && r.top[1]!.probability >= r.top[2]!.probability,
    ),
  );
  const text = await runCli(['run', '--bundle', bundle, images[0]!]);
  t.match(
    text.stdout,
    new RegExp(`^model\\.int8\\.onnx on native-int8\\n${images[0]}\\n(  [1-5]\\. [a-z]+ +\\d+\\.\\d %\\n){5}$`),
    'the first line names the model and the runtime that classified',
  );
  const fp32 = await runCli(['run', '--bundle', bundle, '--fp32', images[0]!]);
  t.equal(fp32.stdout.split('\n')[0], 'model.fp32.onnx on onnxruntime');
  const notImage = await runCli(['run', '--bundle', bundle, join(REPO_ROOT, 'README.md')]);
  t.equal(notImage.code, 1);
  t.equal(
    notImage.stderr,
    `effnet-edge run: ${join(REPO_ROOT, 'README.md')}: cannot be used as an image (Input file contains unsupported image format)\n`,
  );
  const none = await runCli(['run', '--bundle', bundle]);
  t.equal(none.code, 2);
  const notBundle = await runCli(['run', '--bundle', dir, images[0]!]);
  t.equal(
    notBundle.stderr,
    `effnet-edge run: ${dir}: not a bundle (no manifest.json); build one with effnet-edge build\n`,
  );
});

t.test('bench reports fp32 and int8 latency side by side', async (t) => {
  const result = await runCli(['bench', '--bundle', bundle, '--runs', '5', '--warmup', '1', '--batch', '2', '--json']);
  t.equal(result.code, 0, result.stderr);
  const { runtimes } = JSON.parse(result.stdout) as {
    runtimes: Record<
      string,
      {
        model: string;
        batch: number;
        runs: number;
        p50Ms: number;
        p90Ms: number;
        p99Ms: number;
        imagesPerSecond: number;
      }
    >;
  };
  t.strictSame(
    Object.entries(runtimes).map(([name, s]) => [name, s.model, s.batch, s.runs]),
    [
      ['ort-fp32', 'model.fp32.onnx', 2, 5],
      ['ort-qdq', 'model.int8.onnx', 2, 5],
      ['ort-int8', 'model.ort-int8.onnx', 2, 5],
      ['native-int8', 'model.int8.onnx', 2, 5],
    ],
  );
  const stats = Object.values(runtimes);
  t.ok(stats.every((s) => s.p50Ms > 0 && s.p50Ms <= s.p90Ms && s.p90Ms <= s.p99Ms && s.imagesPerSecond > 0));
  const text = await runCli(['bench', '--bundle', bundle, '--runs', '3', '--warmup', '0']);
  t.match(text.stdout, /^runtime +model +batch +p50 ms +p90 ms +p99 ms +img\/s +p50 vs ort-fp32\n/);
  t.match(
    text.stdout,
    /\nort-fp32 +model\.fp32\.onnx +1 .* 1\.00×\nort-qdq +model\.int8\.onnx +1 .* \d+\.\d\d×\nort-int8 +model\.ort-int8\.onnx +1 .* \d+\.\d\d×\n/,
  );
  t.match(text.stdout, /\npower: not measured \(tegrastats not found: not a Jetson\)\n/, 'no Jetson here');
});

t.test(
  'bench on a Jetson: tegrastats (a stand-in printing a recorded Orin NX line) gives W and mJ per image',
  async (t) => {
    const fake = fakeTegrastats('jetson-orin-nx-16gb-jetpack5.txt');
    const path = process.env.PATH;
    process.env.PATH = `${fake.bin}:${path}`;
    t.teardown(() => {
      process.env.PATH = path;
    });
    const args = [
      'bench',
      '--bundle',
      bundle,
      '--runtimes',
      'ort-fp32',
      '--runs',
      '2',
      '--warmup',
      '0',
      '--batch',
      '2',
    ];
    const json = await runCli([...args, '--json']);
    t.equal(json.code, 0, json.stderr);
    t.equal(readFileSync(fake.args, 'utf8'), '--interval 100\n');
    t.notOk(alive(Number(readFileSync(fake.pid, 'utf8'))), 'tegrastats stopped when bench ended');
    const { power, runtimes } = JSON.parse(json.stdout) as {
      power: unknown;
      runtimes: Record<
        string,
        { energy: { meanWatts: number; millijoulesPerImage: number; seconds: number; images: number; samples: number } }
      >;
    };
    t.same(power, { measured: true, basis: 'VDD_IN', rails: ['VDD_IN'], intervalMs: 100 });
    const energy = runtimes['ort-fp32']!.energy;
    t.match(energy, { measured: true, basis: 'VDD_IN', meanWatts: 5.299 });
    t.ok(energy.seconds >= 1 && energy.samples >= 5 && energy.images % 2 === 0, JSON.stringify(energy));
    t.ok(Math.abs(energy.millijoulesPerImage - (1000 * 5.299 * energy.seconds) / energy.images) < 1e-9);
    const text = await runCli(args);
    t.match(text.stdout, /^runtime +model +batch .* p50 vs ort-fp32 +W +mJ\/img\nort-fp32 .* 1\.00× +5\.30 +\d+\.\d\n/);
    t.match(
      text.stdout,
      "\npower: VDD_IN, the module's input (CPU, GPU, SoC, memory and the module's own regulators; not the carrier board), read by tegrastats every 100 ms while each runtime ran alone for at least 1 s\n",
    );
  },
);

t.test(
  'top-k text: a 40-character class name is cut at 32 with an ellipsis, and every percentage lines up',
  async (t) => {
    const forty = 'a-very-long-class-name-of-forty-letters!';
    t.equal(forty.length, 40);
    const text = topKText([
      {
        image: 'a.jpg',
        top: [
          { class: 3, name: forty, probability: 0.973 },
          { class: 5, name: 'dog', probability: 0.02 },
        ],
      },
      { image: 'b.jpg', top: [{ class: 11, name: null, probability: 0.5 }] },
    ]);
    t.equal(
      text,
      'a.jpg\n' +
        '  1. a-very-long-class-name-of-forty…  97.3 %\n' +
        '  2. dog                                2.0 %\n' +
        'b.jpg\n' +
        '  1. class 11                          50.0 %\n',
    );
    t.strictSame(
      new Set(
        text
          .split('\n')
          .filter((l) => l.endsWith('%'))
          .map((l) => l.indexOf('%')),
      ),
      new Set([44]),
    );
  },
);

t.test('helpers', async (t) => {
  t.strictSame(softmax([0, 0]), [0.5, 0.5]);
  t.ok(Math.abs(softmax([1000, 0])[0]! - 1) < 1e-12, 'no overflow');
  t.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50), 5);
  t.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90), 9);
  t.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99), 10);
});

t.test('an image of another size: run says the preprocessing is the bundle’s, and how to fix it', async (t) => {
  const { mkdirSync } = await import('node:fs');
  const sharp = (await import('sharp')).default;
  const odd = join(dir, 'odd', 'wide.png');
  mkdirSync(join(dir, 'odd'), { recursive: true });
  await sharp({ create: { width: 48, height: 40, channels: 3, background: '#808080' } })
    .png()
    .toFile(odd);
  const result = await runCli(['run', '--bundle', bundle, odd]);
  t.equal(result.code, 1);
  t.equal(
    result.stderr,
    `effnet-edge run: ${odd}: image is 48x40 but the model takes 32x32; run takes the preprocessing the bundle was built with (preset direct, no crop): resize the image to 32x32, or rebuild the bundle with --preset torchvision or --resize/--crop\n`,
  );
});
