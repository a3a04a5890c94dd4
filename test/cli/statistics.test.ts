import t from 'tap';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CIFAR_B0 } from '../helpers/paths.js';
import { runCli } from '../helpers/cli.js';

// The shared 32×32 fixture with one evaluation image per class: cheap, and naturally under the 100-image limit.
const dir = t.testdir();
const evalDir = join(dir, 'eval');
for (const name of readdirSync(join(CIFAR_B0, 'test')).sort()) {
  mkdirSync(join(evalDir, name), { recursive: true });
  const first = readdirSync(join(CIFAR_B0, 'test', name)).sort()[0]!;
  copyFileSync(join(CIFAR_B0, 'test', name, first), join(evalDir, name, first));
}
/** Cheap settings: 10 calibration images, no search, 4 golden images. */
const CHEAP = ['--target', 'cpu-x86_64', '--calib-count', '10', '--method', 'percentile', '--golden', '4'];
const model = join(CIFAR_B0, 'model.onnx');
const build = (out: string, ...extra: string[]) =>
  runCli([
    'build',
    '--model',
    model,
    '--calib',
    join(CIFAR_B0, 'calib'),
    '--eval',
    evalDir,
    '--out',
    out,
    ...CHEAP,
    ...extra,
  ]);

const TINY_BUILD =
  '10 evaluation images, fewer than 100: top-1 and agreement on so few are mostly noise; give --eval DIR with at least 100 labelled images (or a --calib folder of 500, 20 % held back)';

t.test('build --strict fails on the small evaluation set, names it, and writes nothing', async (t) => {
  const out = join(dir, 'strict');
  const result = await build(out, '--strict');
  t.equal(result.code, 1);
  t.equal(result.stdout, '');
  t.equal(
    result.stderr,
    `effnet-edge build: --strict: ${TINY_BUILD}\neffnet-edge build: --strict: 1 warning(s); ${out} not written\n`,
  );
  t.notOk(existsSync(out));
});

t.test('without --strict: the paired numbers and the warning in the JSON, the report and eval', async (t) => {
  const out = join(dir, 'bundle');
  const result = await build(out, '--json');
  t.equal(result.code, 0, result.stderr);
  const json = JSON.parse(result.stdout) as { paired: Record<string, unknown>; warnings: string[] };
  t.strictSame(json.warnings, [TINY_BUILD]);
  t.match(json.paired, { images: 10, rightToWrong: Number, wrongToRight: Number, mcnemarP: Number, seed: 19 });
  const { bothRight, rightToWrong, wrongToRight, bothWrong } = json.paired as Record<string, number>;
  t.equal(bothRight! + rightToWrong! + wrongToRight! + bothWrong!, 10);
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  t.match(html, `<h2>Warnings</h2><ul><li>${TINY_BUILD}</li></ul>`);
  t.match(
    html,
    /<p>top-1 \d+\.\d\d % → \d+\.\d\d % \([−+]\d+\.\d\d points, 95 % interval [−+][\d.]+…[−+][\d.]+; \d+ right→wrong, \d+ wrong→right of 10\); McNemar exact p [\d.]+<\/p>/,
  );

  const evalArgs = ['eval', '--fp32', join(out, 'model.fp32.onnx'), '--int8', join(out, 'model.int8.onnx')];
  const text = await runCli([...evalArgs, '--data', evalDir]);
  t.equal(text.code, 0, text.stderr);
  const lines = text.stdout.split('\n');
  t.match(lines[3], /^top-1 \d+\.\d\d % → \d+\.\d\d % \([−+]\d+\.\d\d points, 95 % interval .+ of 10\)$/);
  t.equal(
    lines.at(-2),
    'warning: 10 evaluation images, fewer than 100: top-1 and agreement on so few are mostly noise; give --data (and --count, if set) with at least 100 labelled images',
  );
  const evalJson = JSON.parse((await runCli([...evalArgs, '--data', evalDir, '--json'])).stdout) as {
    paired: Record<string, unknown>;
  };
  t.strictSame(evalJson.paired, json.paired, 'eval and build give the same paired numbers on the same images');
  // --count alone: the subset's seed defaults to 0, as build's --calib-count does.
  const subset = await runCli([...evalArgs, '--data', evalDir, '--count', '5', '--json']);
  t.equal(subset.code, 0, subset.stderr);
  t.equal((JSON.parse(subset.stdout) as { images: number }).images, 5);
});
