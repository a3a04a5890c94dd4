/**
 * The installed command's stderr on a pipe and on a real terminal (a pseudo-terminal from util-linux `script`).
 * Needs `npm run build`. Small runs: 16 calibration images, min-max ranges (no calibrator choice, no search). The
 * stage lines and the quiet pipe are one renderer for build and quantize, so quantize, the cheaper, stands for both.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { CIFAR_B0, REPO_ROOT } from '../helpers/paths.js';
import { runBin } from '../helpers/cli.js';

const dir = t.testdir();
const bin = join(REPO_ROOT, 'bin', 'effnet-edge.js');
const model = join(CIFAR_B0, 'model.onnx');
const calib = join(CIFAR_B0, 'calib');
const quantize = (out: string, ...extra: string[]) => [
  'quantize',
  '--model',
  model,
  '--calib',
  calib,
  '--calib-count',
  '16',
  ...extra,
  '--out',
  join(dir, out),
];

/** Runs the command with stdout and stderr on a pseudo-terminal; returns what the terminal received. */
function onTerminal(argv: string[]): { code: number; screen: string } {
  const quoted = [process.execPath, bin, ...argv].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const run = spawnSync('script', ['-q', '-e', '-c', quoted, '/dev/null'], { cwd: dir, encoding: 'utf8' });
  return { code: run.status ?? -1, screen: run.stdout.replaceAll('\r\n', '\n') };
}

const hasScript = spawnSync('script', ['--version']).status === 0;

t.test('on a pipe: nothing on stderr from a quantize that succeeds', async (t) => {
  const quantized = runBin(quantize('piped.onnx', '--method', 'minmax'), { cwd: dir });
  t.strictSame(quantized, { code: 0, stdout: '', stderr: '' }, 'no stage lines, bars or rates: quiet on success');
});

t.test('on a terminal: a numbered line per stage, each redraw clearing the line', { skip: !hasScript }, async (t) => {
  const { code, screen } = onTerminal(quantize('tty.onnx', '--method', 'minmax'));
  t.equal(code, 0, 'exit code');
  const redraws = screen.split('\r\x1b[K').slice(1);
  t.ok(redraws.length >= 6, 'the stages and their bars');
  t.equal(screen.indexOf('\r\x1b[K'), 0, 'the first write clears the line too');
  const finished = redraws.filter((r) => r.endsWith('\n')).map((r) => r.replace(/\d+\.\ds\n$/, 'Ns'));
  t.strictSame(finished, ['[1/2] calibrating: Ns', '[2/2] writing the files: Ns']);
  const live = redraws.filter((r) => !r.endsWith('\n'));
  t.equal(live[0], '[1/2] calibrating…');
  t.equal(live.at(-1), '[2/2] writing the files…');
  t.ok(live.includes('[1/2] calibrating… [##############################] 16/16 img'), 'the last image, no rate');
  const bars = live.slice(1, -1);
  t.ok(
    bars.every((r) => /^\[1\/2\] calibrating… \[[#.]{30}\] \d+\/16 img( [\d.]+ img\/s ETA \d+s)?$/.test(r)),
    bars.join(' | '),
  );
});

t.test('on a terminal with --json: the result alone', { skip: !hasScript }, async (t) => {
  const { code, screen } = onTerminal(quantize('json.onnx', '--method', 'minmax', '--json'));
  t.equal(code, 0, 'exit code');
  t.equal(screen.indexOf('\x1b'), -1, 'no escape sequence');
  t.equal(JSON.parse(screen).out, join(dir, 'json.onnx'));
});
