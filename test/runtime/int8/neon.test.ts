/**
 * The aarch64 NEON path (the Jetson's CPU), built with Debian's gcc-aarch64-linux-gnu and run under qemu-user:
 * NEON equals the aarch64 scalar path bit for bit (1 and 2 threads), and the integer kernels equal the x86 scalar
 * path run here over koffi.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { absBinned } from '../../../calibration/calibrate/histogram.js';
import { Prng } from '../../../toolkit/model/prng.js';
import { engineFileFrom } from '../../../toolkit/runtime/int8/engineFile.js';
import { Int8Engine, int8UnavailableReason } from '../../../toolkit/runtime/int8/native.js';
import { demoB0EngineBytes } from '../../helpers/demoEngine.js';
import { conv, depthwise, int8s } from '../../helpers/int8Layers.js';
import { REPO_ROOT } from '../../helpers/paths.js';

const has = (command: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const missing = [
  ...(has('aarch64-linux-gnu-gcc')
    ? []
    : ['aarch64-linux-gnu-gcc (apt install gcc-aarch64-linux-gnu libc6-dev-arm64-cross)']),
  ...(has('qemu-aarch64') ? [] : ['qemu-aarch64 (apt install qemu-user)']),
].join(', ');
const reason = missing ? `needs ${missing}` : int8UnavailableReason();

/** The check driver (native/int8/test/check.c) and the library, cross-compiled for aarch64 into `dir`. */
function crossCompiledCheck(dir: string): string {
  const source = join(REPO_ROOT, 'native', 'int8');
  const check = join(dir, 'check');
  // Every C file of the library (each ISA's file compiles to nothing on another architecture), so that a new source
  // file needs no edit here.
  const sources = readdirSync(source)
    .filter((f) => f.endsWith('.c'))
    .map((f) => join(source, f));
  execFileSync('aarch64-linux-gnu-gcc', [
    ...['-std=c11', '-O2', '-static', '-pthread', '-ffp-contract=off', '-o', check],
    ...[join(source, 'test', 'check.c'), ...sources, '-lm'],
  ]);
  return check;
}

/** Runs the cross-compiled check under qemu: the paths of the files it wrote, one per line. */
type OnArm = (args: string[]) => string[];

t.test('the NEON path under qemu-aarch64', { skip: reason ?? false }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'effnet-neon-'));
  const check = crossCompiledCheck(dir);
  const onArm = (args: string[]) =>
    execFileSync('qemu-aarch64', [check, ...args], { encoding: 'utf8' })
      .trim()
      .split('\n');

  t.test('kernels: NEON = aarch64 scalar = x86 scalar, bit for bit', async (t) => kernelsMatch(t, dir, onArm));
  t.test("calibration's histogram binning on aarch64 counts what the TypeScript loop counts", async (t) =>
    histogramMatches(t, dir, onArm),
  );
  t.test(
    'EfficientNet-B0 (the demo model, Q/DQ): NEON logits equal the aarch64 scalar path, and x86 within float rounding',
    async (t) => b0Matches(t, dir, onArm),
  );
});

function kernelsMatch(t: Test, dir: string, onArm: OnArm) {
  const prng = new Prng(7);
  const input = { h: 9, w: 7, c: 37 };
  const programs = {
    depthwise5s2: [depthwise(prng, 'x', 'y', 37, 5, 2, [2, 2, 2, 2])],
    pointwise: [conv(prng, 'x', 'y', input, 43, 1, 1, [0, 0, 0, 0])],
    stemLike: [conv(prng, 'x', 'y', input, 19, 3, 2, [1, 1, 1, 1])],
    residual: [
      conv(prng, 'x', 'y', input, 37, 1, 1, [0, 0, 0, 0], {
        table: null,
        residual: { tensor: 'x', mainScale: 0.06, skipScale: 0.05, outScale: 0.07 },
      }),
    ],
  };
  for (const [name, layers] of Object.entries(programs)) {
    const program = {
      input: { tensor: 'x', channels: input.c, height: input.h, width: input.w, scale: 0.05 },
      classes: 0,
      layers,
    };
    const file = engineFileFrom(program);
    const x = int8s(prng, input.h * input.w * input.c);
    const engine = Int8Engine.load({ bytes: file, source: name });
    engine.setIsa('scalar');
    const count =
      name === 'depthwise5s2'
        ? 5 * 4 * 37
        : name === 'stemLike'
          ? 5 * 4 * 19
          : input.h * input.w * (name === 'pointwise' ? 43 : 37);
    const expected = engine.runQuantized(x, count);
    engine.close();
    writeFileSync(join(dir, `${name}.engine`), file);
    writeFileSync(join(dir, `${name}.i8`), x);
    const outputs = onArm([
      'quantized',
      join(dir, `${name}.engine`),
      join(dir, `${name}.i8`),
      join(dir, name),
      String(count),
    ]);
    t.same(
      outputs.map((p) => p.slice(dir.length + 1)),
      [`${name}.scalar.1`, `${name}.scalar.2`, `${name}.neon.1`, `${name}.neon.2`],
    );
    for (const path of outputs)
      t.same(
        readFileSync(path),
        Buffer.from(expected.buffer),
        `${name}: ${path.slice(dir.length + 1)} equals the x86 scalar path`,
      );
  }
}

function histogramMatches(t: Test, dir: string, onArm: OnArm) {
  const prng = new Prng(11);
  const [bins, inverse] = [1000, 1000 / 2.5];
  // SiLU-like values, some past the last bin, a few exactly on bin edges, one NaN; 10 007 so the tail is not whole.
  const values = Float32Array.from({ length: 10_007 }, (_, i) => {
    const g = prng.nextNormal() * 3;
    return i % 101 === 0 ? (i % bins) / inverse : g / (1 + Math.exp(-g));
  });
  values[4321] = Number.NaN;
  writeFileSync(join(dir, 'values.f32'), values);
  const [path] = onArm([
    'histogram',
    join(dir, 'values.f32'),
    join(dir, 'histogram.out'),
    String(bins),
    String(inverse),
  ]);
  const bytes = readFileSync(path!);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const counts = Float64Array.from({ length: bins }, (_, i) => view.getFloat64(8 * i, true));
  const spill = new Float64Array(16);
  const expected = new Float64Array(bins);
  const { outside, max } = absBinned(values, inverse, expected, spill);
  t.ok(outside > 1, `${outside} values outside, the NaN among them`);
  t.same(counts, expected, 'every count');
  t.equal(Number(view.getBigInt64(8 * bins, true)), outside);
  t.equal(view.getFloat32(8 * bins + 8, true), max);
  const kept = Float32Array.from({ length: 16 }, (_, i) => view.getFloat32(8 * bins + 12 + 4 * i, true));
  t.same(kept.subarray(0, Math.min(outside, 16)), Float32Array.from(spill.subarray(0, Math.min(outside, 16))));
}

async function b0Matches(t: Test, dir: string, onArm: OnArm) {
  const file = await demoB0EngineBytes();
  const prng = new Prng(3);
  const batch = 4;
  const input = Float32Array.from({ length: batch * 3 * 32 * 32 }, () => prng.nextNormal());
  writeFileSync(join(dir, 'b0.engine'), file);
  writeFileSync(join(dir, 'b0.f32'), input);
  const outputs = onArm(['logits', join(dir, 'b0.engine'), join(dir, 'b0.f32'), join(dir, 'b0'), String(batch)]);
  t.equal(outputs.length, 4, 'scalar and NEON, 1 and 2 threads');
  const scalar = readFileSync(outputs[0]!);
  for (const path of outputs.slice(1))
    t.same(readFileSync(path), scalar, `${path.slice(dir.length + 1)} equals aarch64 scalar bit for bit`);
  const engine = Int8Engine.load({ bytes: file, source: 'demo' });
  const x86 = engine.run(input, [batch, 3, 32, 32]);
  engine.close();
  const arm = new Float32Array(scalar.buffer, scalar.byteOffset, scalar.length / 4);
  const worst = Math.max(...Array.from(x86, (v, i) => Math.abs(v - arm[i]!)));
  // The integer kernels are exact; only libm's exp in the SE gate may round differently on another architecture.
  t.ok(worst < 0.05, `largest logit difference x86 vs aarch64: ${worst}`);
}
