/**
 * The `ort-int8` runtime: ONNX Runtime on a CPU bundle's QOperator graph (model.ort-int8.onnx). `verify`, `run` and
 * `bench` take it by name; `auto` falls back to it, saying so, where the native int8 engine is not built; bench
 * reports the Q/DQ graph beside it as `ort-qdq`.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { runCli } from '../helpers/cli.js';
import { CIFAR_B0, REPO_ROOT } from '../helpers/paths.js';

const dir = t.testdir();
const bundle = join(dir, 'cpu');
const image = join(CIFAR_B0, 'test', 'cat', readdirSync(join(CIFAR_B0, 'test', 'cat')).sort()[0]!);

t.before(async () => {
  // 100 calibration images: with 20, this fixture's two int8 graphs disagree on 3 of 20 golden images.
  const args = ['--search-count', '0', '--calib-count', '100', '--golden', '32', '--quiet'];
  const built = await runCli(['build', '--out', bundle, ...args]);
  if (built.code !== 0) throw new Error(built.stderr);
});

t.test('verify --runtime ort-int8 passes on a cpu-x86_64 bundle', async (t) => {
  const verify = await runCli(['verify', '--bundle', bundle, '--runtime', 'ort-int8', '--tap']);
  t.equal(verify.code, 0, verify.stdout);
  const lines = verify.stdout.split('\n');
  t.strictSame(
    lines.filter((l) => /^(TAP|#|1\.\.|ok|not ok)/.test(l)),
    [
      'TAP version 14',
      '# effnet-edge verify cpu-x86_64 (ort-int8)',
      '1..6',
      "ok 1 - bundle files match the manifest's sha256",
      'ok 2 - top-1 agreement with build-time int8',
      'ok 3 - top-1 agreement with build-time fp32',
      'ok 4 - mean logit cosine with build-time fp32',
      'ok 5 - top-1 accuracy on the labelled golden inputs',
      'ok 6 - max logit deviation from build-time int8',
    ],
  );
  t.ok(lines.includes('  runtime: ort-int8'), "the deviation check is ort-int8's");
});

t.test('run --runtime ort-int8 runs model.ort-int8.onnx; the fp32 model refuses', async (t) => {
  const run = await runCli(['run', '--bundle', bundle, '--runtime', 'ort-int8', '--json', image]);
  t.equal(run.code, 0, run.stderr);
  t.equal(run.stderr, '');
  const { runtime, model } = JSON.parse(run.stdout) as { runtime: string; model: string };
  t.strictSame({ runtime, model }, { runtime: 'ort-int8', model: 'model.ort-int8.onnx' });
  const fp32 = await runCli(['run', '--bundle', bundle, '--fp32', '--runtime', 'ort-int8', image]);
  t.equal(fp32.code, 1);
  t.equal(
    fp32.stderr,
    'effnet-edge run: the ort-int8 runtime runs model.ort-int8.onnx, the QOperator graph of an int8 CPU bundle; this is the fp32 model\n',
  );
});

t.test('without the native engine, auto runs ort-int8 and says why (the installed CLI)', async (t) => {
  const missing = join(dir, 'nowhere', 'libeffnet_int8.so');
  const run = spawnSync(
    process.execPath,
    [join(REPO_ROOT, 'bin', 'effnet-edge.js'), 'run', '--bundle', bundle, '--json', image],
    { env: { ...process.env, EFFNET_EDGE_INT8_LIB: missing }, encoding: 'utf8' },
  );
  t.equal(run.status, 0, run.stderr);
  t.equal(
    run.stderr,
    `effnet-edge run: the int8 engine is not built (${missing} is missing); run: effnet-edge native build; running the bundle's QOperator graph (model.ort-int8.onnx) on ONNX Runtime instead (ort-int8)\n`,
  );
  t.equal((JSON.parse(run.stdout) as { runtime: string }).runtime, 'ort-int8');
});

t.test('bench reports the Q/DQ graph as ort-qdq and the QOperator graph as ort-int8', async (t) => {
  const bench = await runCli([
    'bench',
    '--bundle',
    bundle,
    '--runtimes',
    'ort-qdq,ort-int8',
    '--runs',
    '3',
    '--warmup',
    '0',
    '--json',
  ]);
  t.equal(bench.code, 0, bench.stderr);
  const runtimes = JSON.parse(bench.stdout).runtimes as Record<string, { model: string; runs: number }>;
  t.strictSame(
    Object.entries(runtimes).map(([name, s]) => [name, s.model, s.runs]),
    [
      ['ort-qdq', 'model.int8.onnx', 3],
      ['ort-int8', 'model.ort-int8.onnx', 3],
    ],
  );
});
