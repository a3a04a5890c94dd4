import t from 'tap';
import { COMMANDS } from '../../toolkit/cli/main.js';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { maxAbsDeviation } from '../../toolkit/eval/metrics.js';
import { REFERENCE } from '../helpers/paths.js';
import { runBin, runCli } from '../helpers/cli.js';
import { maxAbs, readFloat32, runOnnx } from '../helpers/ort.js';

t.test('export writes a model that runs, says so in one line, and the same bytes twice', async (t) => {
  const dir = t.testdir();
  const out = join(dir, 'b0.onnx');
  const result = await runCli([
    'export',
    '--variant',
    'b0',
    '--weights',
    join(REFERENCE, 'seed_b0', 'weights.safetensors'),
    '--out',
    out,
  ]);
  t.equal(result.code, 0);
  const megabytes = (statSync(out).size / 1e6).toFixed(1);
  t.equal(result.stdout, `wrote ${out} (${megabytes} MB; b0 at 224×224, 1000 classes)\n`, 'one line, as build');
  t.equal(result.stderr, '');
  const input = readFloat32('input.bin', readFileSync(join(REFERENCE, 'seed_b0', 'input.bin')));
  const reference = readFloat32('logits.bin', readFileSync(join(REFERENCE, 'seed_b0', 'logits.bin')));
  const logits = await runOnnx(out, input, [1, 3, 224, 224]);
  t.ok(maxAbsDeviation(logits, reference) <= 1e-4 * maxAbs(reference));
  const again = join(dir, 'again.onnx');
  const json = await runCli([
    'export',
    '--variant',
    'b0',
    '--weights',
    join(REFERENCE, 'seed_b0', 'weights.safetensors'),
    '--out',
    again,
    '--json',
  ]);
  const parsed = JSON.parse(json.stdout) as { sha256: string; weightNaming: string; bnEpsilon: number };
  t.equal(parsed.sha256, createHash('sha256').update(readFileSync(out)).digest('hex'), 'byte-identical');
  t.equal(parsed.weightNaming, 'seed');
  t.equal(parsed.bnEpsilon, 0.001);
});

t.test(
  'export refuses to replace a file without --force, as build refuses a bundle; --quiet prints nothing',
  async (t) => {
    const dir = t.testdir({ 'small.onnx': 'mine', 'small.onnx.data': 'mine too', 'lone.onnx.data': 'mine' });
    const out = join(dir, 'small.onnx');
    const argv = ['export', '--variant', 'b0', '--resolution', '32', '--num-classes', '10', '--init', 'seeded'];
    const refused = await runCli([...argv, '--out', out]);
    t.equal(refused.code, 1);
    t.equal(
      refused.stderr,
      `effnet-edge export: ${out} already exists; give --force to replace it, or --out another file\n`,
    );
    t.equal(readFileSync(out, 'utf8'), 'mine', 'left as it was');
    const lone = join(dir, 'lone.onnx');
    const dataRefused = await runCli([...argv, '--out', lone, '--external-data']);
    t.equal(
      dataRefused.stderr,
      `effnet-edge export: ${lone}.data already exists; give --force to replace it, or --out another file\n`,
      'the weights file beside it counts too',
    );
    const data = await runCli([...argv, '--out', out, '--external-data', '--force', '--quiet']);
    t.equal(data.code, 0, data.stderr);
    t.equal(data.stdout, '', '--quiet: nothing on success');
    t.not(readFileSync(`${out}.data`, 'utf8'), 'mine too', 'replaced with --force');
    const again = await runCli([...argv, '--out', out, '--external-data']);
    t.equal(
      again.stderr,
      `effnet-edge export: ${out} already exists; give --force to replace it, or --out another file\n`,
    );
  },
);

t.test('export --init seeded with external data', async (t) => {
  const dir = t.testdir();
  const out = join(dir, 'b1.onnx');
  const result = await runCli([
    'export',
    '--variant',
    'b1',
    '--resolution',
    '64',
    '--init',
    'seeded',
    '--seed',
    '5',
    '--external-data',
    '--out',
    out,
  ]);
  t.equal(result.code, 0, result.stderr);
  t.ok(existsSync(`${out}.data`), 'weights in b1.onnx.data');
  t.ok(readFileSync(out).length < 200_000, 'the graph file holds no large weights');
  const logits = await runOnnx(out, new Float32Array(3 * 64 * 64).fill(0.5), [1, 3, 64, 64]);
  t.equal(logits.length, 1000);
});

t.test('export usage errors exit 2, bad files exit 1, all without a stack trace', async (t) => {
  const noOut = await runCli(['export', '--variant', 'b0', '--init', 'seeded']);
  t.equal(noOut.code, 2);
  t.equal(
    noOut.stderr,
    "effnet-edge export: --out FILE.onnx is required\nRun 'effnet-edge export --help' for usage.\n",
  );
  const both = await runCli(['export', '--variant', 'b0', '--out', 'x.onnx']);
  t.equal(
    both.stderr,
    "effnet-edge export: give exactly one of --weights FILE.safetensors or --init seeded\nRun 'effnet-edge export --help' for usage.\n",
  );
  const badSeed = await runCli(['export', '--init', 'seeded', '--seed', 'abc', '--out', 'x.onnx']);
  t.equal(
    badSeed.stderr,
    "effnet-edge export: --seed expects an integer, got 'abc'\nRun 'effnet-edge export --help' for usage.\n",
  );
  const dir = t.testdir({ 'w.safetensors': 'hello' });
  const badFile = runBin([
    'export',
    '--variant',
    'b0',
    '--weights',
    join(dir, 'w.safetensors'),
    '--out',
    join(dir, 'o.onnx'),
  ]);
  t.equal(badFile.code, 1);
  t.equal(
    badFile.stderr,
    `effnet-edge export: ${join(dir, 'w.safetensors')}: not a safetensors file (5 bytes, too short for a header); expected weights saved with safetensors.torch.save_file\n`,
  );
  t.notOk(existsSync(join(dir, 'o.onnx')), 'nothing written');
});

t.test('the installed entry point answers --help for the program and every command', async (t) => {
  const top = runBin(['--help']);
  t.equal(top.code, 0);
  t.match(top.stdout, /Usage: effnet-edge <command> \[options\]/);
  for (const { name: command } of COMMANDS) {
    const help = runBin([command, '--help']);
    t.equal(help.code, 0, `${command} --help`);
    t.match(help.stdout, new RegExp(`^Usage: effnet-edge ${command}`));
  }
  const unknown = runBin(['frobnicate']);
  t.equal(unknown.code, 2);
  t.equal(
    unknown.stderr,
    `effnet-edge: unknown command 'frobnicate'; expected one of ${COMMANDS.map((c) => c.name).join(', ')}\n`,
  );
  t.match(
    unknown.stderr,
    /expected one of build, deploy, verify, rollback, status, inspect, run, bench, native, engine, device-check, targets, summary, export, quantize, eval\n$/,
  );
});
