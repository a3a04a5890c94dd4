/**
 * native/tools/install-engine.mjs, npm's postinstall: builds the engine where CMake and a C compiler are on PATH,
 * and otherwise says so in two lines and exits 0 (the install never fails for want of a compiler).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { REPO_ROOT } from '../../helpers/paths.js';

/** A folder for PATH holding only node and the named programs (as found on this PATH). */
function pathWith(programs: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'effnet-path-'));
  symlinkSync(process.execPath, join(dir, 'node'));
  for (const program of programs)
    symlinkSync(execFileSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' }).trim(), join(dir, program));
  return dir;
}

/** A package root with the tools alone (no native sources, no prebuilt engine), so the checks are exact. */
function bareRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'effnet-root-'));
  cpSync(join(REPO_ROOT, 'native', 'tools'), join(root, 'native', 'tools'), { recursive: true });
  return root;
}

const install = (root: string, path: string, args: string[] = []) =>
  spawnSync(process.execPath, [join(root, 'native', 'tools', 'install-engine.mjs'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, PATH: path, CC: '' },
  });

const FIX = 'effnet-edge: to build it: sudo apt-get install cmake gcc, then npx effnet-edge native build\n';

t.test('without cmake or a compiler on PATH: two lines, exit 0', async (t) => {
  const result = install(bareRoot(), pathWith([]));
  t.equal(result.status, 0);
  t.equal(
    result.stdout,
    'effnet-edge: the int8 engine is not built: cmake and a C compiler (cc, gcc, clang) are not on PATH; run and bench use ONNX Runtime meanwhile.\n' +
      FIX,
  );
  t.equal(result.stderr, '');
});

t.test('cmake without a compiler names the compiler alone', async (t) => {
  const result = install(bareRoot(), pathWith(['cmake']));
  t.equal(result.status, 0);
  t.equal(
    result.stdout,
    'effnet-edge: the int8 engine is not built: a C compiler (cc, gcc, clang) is not on PATH; run and bench use ONNX Runtime meanwhile.\n' +
      FIX,
  );
});

t.test('without tools but with the packed prebuilt engine: one line naming it', async (t) => {
  const root = bareRoot();
  const prebuilt = join(root, 'native', 'prebuilt', `${process.platform}-${process.arch}`);
  mkdirSync(prebuilt, { recursive: true });
  writeFileSync(join(prebuilt, 'libeffnet_int8.so'), '');
  const result = install(root, pathWith([]));
  t.equal(result.status, 0);
  t.equal(
    result.stdout,
    `effnet-edge: using the prebuilt int8 engine native/prebuilt/${process.platform}-${process.arch}/libeffnet_int8.so (cmake and a C compiler (cc, gcc, clang) are not on PATH)\n`,
  );
});

t.test('with the tools: builds the engine, one line', async (t) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'effnet-install-')), 'build');
  const result = install(REPO_ROOT, process.env.PATH ?? '', ['--build-dir', dir]);
  t.equal(result.status, 0, result.stdout);
  t.equal(result.stdout, `effnet-edge: built the int8 engine ${join(dir, 'libeffnet_int8.so')}\n`);
  t.ok(existsSync(join(dir, 'libeffnet_int8.so')));
  t.same([...readFileSync(join(dir, 'libeffnet_int8.so')).subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], 'an ELF file');
});

t.test('a failed build says why in two lines and exits 0', async (t) => {
  // The tools but no native/ sources: CMake's configure step fails.
  const dir = join(mkdtempSync(join(tmpdir(), 'effnet-install-')), 'build');
  const result = install(bareRoot(), process.env.PATH ?? '', ['--build-dir', dir]);
  t.equal(result.status, 0);
  const [first, second] = result.stdout.split('\n');
  t.match(
    first,
    /^effnet-edge: the int8 engine did not build \(CMake Error: .*; log: .*install\.log\); run and bench use ONNX Runtime meanwhile\.$/,
  );
  t.equal(`${second}\n`, FIX);
  t.ok(existsSync(join(dir, 'install.log')));
});
