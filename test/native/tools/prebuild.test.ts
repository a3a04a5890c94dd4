/**
 * native/tools/prebuild.mjs: the engines the packed toolkit carries for linux-x64 and linux-arm64. The arm64 one,
 * cross-built here, runs under qemu-aarch64 through the check driver (native/int8/test/check.c) linked against it,
 * and gives the demo model the logits the x64 one gives.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import t from 'tap';
import { Prng } from '../../../toolkit/model/prng.js';
import { modelFromFile } from '../../../toolkit/onnx/read.js';
import { structureOf } from '../../../toolkit/passes/recognise.js';
import { quantizationPlanFrom } from '../../../toolkit/quant/plan.js';
import { preparedFp32From } from '../../../toolkit/quant/quantize.js';
import { qdqModelFrom } from '../../../toolkit/quant/qdq.js';
import { engineBytesFor } from '../../../toolkit/runtime/int8/native.js';
import { REPO_ROOT } from '../../helpers/paths.js';

const PREBUILT = join(REPO_ROOT, 'native', 'prebuilt');
const prebuild = (args: string[], path = process.env.PATH) =>
  spawnSync(process.execPath, [join(REPO_ROOT, 'native', 'tools', 'prebuild.mjs'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, PATH: path },
  });
const has = (command: string) => spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
const crossTools = ['aarch64-linux-gnu-gcc', 'qemu-aarch64', 'cmake'].filter((c) => !has(c));
const skip = process.arch !== 'x64' ? 'builds on x64' : crossTools.length ? `needs ${crossTools.join(', ')}` : false;

/** ELF e_machine: 62 x86-64, 183 aarch64. */
const elfMachine = (path: string) => readFileSync(path).readUInt16LE(18);

t.test('builds both platforms: one line each, the right architecture, no build paths inside', { skip }, async (t) => {
  const result = prebuild([]);
  t.equal(result.status, 0, result.stderr);
  t.equal(
    result.stdout,
    'effnet-edge: prebuilt engine native/prebuilt/linux-x64/libeffnet_int8.so\n' +
      'effnet-edge: prebuilt engine native/prebuilt/linux-arm64/libeffnet_int8.so\n',
  );
  t.equal(elfMachine(join(PREBUILT, 'linux-x64', 'libeffnet_int8.so')), 62);
  t.equal(elfMachine(join(PREBUILT, 'linux-arm64', 'libeffnet_int8.so')), 183);
  for (const key of ['linux-x64', 'linux-arm64'])
    t.notOk(readFileSync(join(PREBUILT, key, 'libeffnet_int8.so')).includes(REPO_ROOT), `${key}: no ${REPO_ROOT}`);
});

t.test('refuses, exit 2, naming the cross compiler and its apt packages', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'effnet-path-'));
  symlinkSync(execFileSync('sh', ['-c', 'command -v cmake'], { encoding: 'utf8' }).trim(), join(dir, 'cmake'));
  const result = prebuild([process.arch === 'arm64' ? 'linux-x64' : 'linux-arm64'], dir);
  t.equal(result.status, 2);
  t.equal(
    result.stderr,
    process.arch === 'arm64'
      ? 'effnet-edge: cannot build the prebuilt linux-x64 engine: x86_64-linux-gnu-gcc is not on PATH; install it: sudo apt-get install gcc-x86-64-linux-gnu libc6-dev-amd64-cross\n'
      : 'effnet-edge: cannot build the prebuilt linux-arm64 engine: aarch64-linux-gnu-gcc is not on PATH; install it: sudo apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross\n',
  );
  t.equal(
    prebuild(['linux-riscv64']).stderr,
    "effnet-edge: no prebuilt engine for 'linux-riscv64': expected one of linux-x64, linux-arm64\n",
  );
});

/** The demo model's engine file, with every activation range 6 (the numbers only need to agree across builds). */
async function demoEngine(): Promise<Uint8Array> {
  const fp32 = preparedFp32From(
    await modelFromFile({ path: join(REPO_ROOT, 'demo', 'cifar10-b0', 'model.onnx') }),
  ).model;
  const plan = quantizationPlanFrom({ model: fp32, structure: structureOf(fp32).structure, profile: 'onnxruntime' });
  const ranges = new Map(plan.activations.map((a) => [a.tensor, 6]));
  const int8 = qdqModelFrom({ model: fp32, plan, ranges, weightQmax: 127, weightFormat: 'int8' }).model;
  return engineBytesFor({ model: int8, source: 'demo' });
}

/** The check driver linked against the prebuilt engine `key`, run on the demo: the logits files it wrote. */
function logitsOn(options: { key: string; compiler: string; dir: string; emulator: string[] }): string[] {
  const lib = join(PREBUILT, options.key);
  const check = join(options.dir, `check-${options.key}`);
  execFileSync(
    options.compiler,
    ['-O2', '-o', check, join(REPO_ROOT, 'native', 'int8', 'test', 'check.c')].concat(['-L', lib, '-leffnet_int8']),
  );
  const out = join(options.dir, options.key);
  const args = ['logits', join(options.dir, 'b0.engine'), join(options.dir, 'b0.f32'), out, '4'];
  const [command, ...rest] = [...options.emulator, check, ...args];
  return execFileSync(command!, rest, { encoding: 'utf8', env: { ...process.env, LD_LIBRARY_PATH: lib } })
    .trim()
    .split('\n');
}

t.test("the arm64 engine under qemu gives the x64 engine's logits on the demo model", { skip }, async (t) => {
  t.equal(prebuild([]).status, 0);
  const dir = mkdtempSync(join(tmpdir(), 'effnet-prebuilt-'));
  writeFileSync(join(dir, 'b0.engine'), await demoEngine());
  const prng = new Prng(3);
  writeFileSync(
    join(dir, 'b0.f32'),
    Float32Array.from({ length: 4 * 3 * 32 * 32 }, () => prng.nextNormal()),
  );
  const x64 = logitsOn({ key: 'linux-x64', compiler: 'cc', dir, emulator: [] });
  const arm = logitsOn({
    key: 'linux-arm64',
    compiler: 'aarch64-linux-gnu-gcc',
    dir,
    emulator: ['qemu-aarch64', '-L', '/usr/aarch64-linux-gnu'],
  });
  t.same(
    arm.map((p) => p.slice(dir.length + 1)),
    ['linux-arm64.scalar.1', 'linux-arm64.scalar.2', 'linux-arm64.neon.1', 'linux-arm64.neon.2'],
  );
  const floats = (path: string) => new Float32Array(new Uint8Array(readFileSync(path)).buffer);
  const reference = floats(x64[0]!);
  t.equal(reference.length, 40, 'batch 4 × 10 classes');
  for (const path of arm) {
    const logits = floats(path);
    const worst = Math.max(...Array.from(reference, (v, i) => Math.abs(v - logits[i]!)));
    // The integer kernels are exact; only libm's exp in the SE gate may round differently on another architecture.
    t.ok(worst < 0.05, `${path.slice(dir.length + 1)}: largest difference from x64 ${worst}`);
  }
});

/** In a copy of the package at `root`: the engine path the loader picks and why it cannot run, from a fresh process. */
function loaderIn(root: string): string[] {
  const script = `import { int8LibraryPath, int8UnavailableReason } from './toolkit/runtime/int8/native.ts';
console.log(int8LibraryPath()); console.log(int8UnavailableReason());`;
  const env = { ...process.env };
  delete env.EFFNET_EDGE_INT8_LIB;
  return execFileSync(process.execPath, ['--import=@tapjs/typescript/import', '--input-type=module', '-e', script], {
    cwd: root,
    env,
    encoding: 'utf8',
  })
    .trim()
    .split('\n');
}

t.test('the loader: native/build first, then the prebuilt engine for this platform', { skip }, async (t) => {
  t.equal(prebuild(['linux-x64']).status, 0);
  const root = mkdtempSync(join(tmpdir(), 'effnet-package-'));
  for (const entry of ['package.json', 'tsconfig.json', 'toolkit', 'targets'])
    cpSync(join(REPO_ROOT, entry), join(root, entry), { recursive: true });
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'));
  const build = join(root, 'native', 'build', 'libeffnet_int8.so');
  const prebuilt = join(root, 'native', 'prebuilt', 'linux-x64', 'libeffnet_int8.so');
  t.same(loaderIn(root), [
    'null',
    `the int8 engine is not built (none of ${build}, ${prebuilt} exists); run: effnet-edge native build`,
  ]);
  cpSync(join(PREBUILT, 'linux-x64'), dirname(prebuilt), { recursive: true });
  t.same(loaderIn(root), [prebuilt, 'null']);
  cpSync(join(PREBUILT, 'linux-x64'), dirname(build), { recursive: true });
  t.same(loaderIn(root), [build, 'null']);
});
