/**
 * Counts and paths that would hang or exhaust the machine (issue 16): each is bounded, and the bound is said.
 */
import t from 'tap';
import { MAX_THREADS } from '../../toolkit/cli/command.js';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/paths.js';

t.test('bench refuses counts that would hang the machine rather than measure it', async (t) => {
  const threads = await runCli(['bench', '--bundle', 'b', '--threads', '5000']);
  t.equal(threads.code, 2);
  t.equal(
    threads.stderr,
    `effnet-edge bench: --threads expects an integer from 1 to ${MAX_THREADS}, got 5000\nRun 'effnet-edge bench --help' for usage.\n`,
  );
  t.equal(
    (await runCli(['bench', '--bundle', 'b', '--batch', '100000'])).stderr,
    "effnet-edge bench: --batch expects an integer from 1 to 1024, got 100000\nRun 'effnet-edge bench --help' for usage.\n",
  );
  t.equal(
    (await runCli(['bench', '--bundle', 'b', '--runs', '0'])).stderr,
    "effnet-edge bench: --runs expects an integer from 1 to 100000, got 0\nRun 'effnet-edge bench --help' for usage.\n",
  );
});

t.test('outputs under kernel filesystems are refused before anything is made there', async (t) => {
  const demo = join(REPO_ROOT, 'demo', 'cifar10-b0');
  const build = await runCli([
    'build',
    '--target',
    'cpu-x86_64',
    '--model',
    join(demo, 'model.onnx'),
    '--calib',
    join(demo, 'calib'),
    '--out',
    '/proc/self/bundle',
  ]);
  t.equal(build.code, 2);
  t.match(
    build.stderr,
    /^effnet-edge build: --out \/proc\/self\/bundle is under \/proc, a kernel filesystem, not a place for files; choose another --out\n/,
  );
  const native = await runCli(['native', 'build', '--build-dir', '/sys/kernel/x/y']);
  t.equal(native.code, 2);
  t.match(native.stderr, /^effnet-edge native: --build-dir \/sys\/kernel\/x\/y is under \/sys, a kernel filesystem/);
});
