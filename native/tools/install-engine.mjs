#!/usr/bin/env node
/**
 * `npm ci`/`npm install`'s postinstall: builds the int8 engine (native/build/libeffnet_int8.so) as
 * `effnet-edge native build` does, so that `run` and `bench` use it without another command. Where CMake or a C
 * compiler is missing, or the build fails, it says so in two lines and exits 0: the toolkit works without the engine
 * (ONNX Runtime runs the bundles), and a failed install would cost the user far more than a slower runtime.
 *
 *   node native/tools/install-engine.mjs [--build-dir DIR]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENGINE_FILE, foundOnPath, HOST_TOOLS_APT } from './toolchain.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const flag = process.argv.indexOf('--build-dir');
const buildDir = flag > 0 && process.argv[flag + 1] ? resolve(process.argv[flag + 1]) : join(root, 'native', 'build');
const shown = (path) => (path.startsWith(root) ? relative(root, path) : path);
const FALLBACK = 'run and bench use ONNX Runtime meanwhile';
const FIX = `effnet-edge: to build it: ${HOST_TOOLS_APT}, then npx effnet-edge native build`;

function missingTools() {
  const compilers = process.env.CC ? [process.env.CC] : ['cc', 'gcc', 'clang'];
  return [
    ...(foundOnPath(['cmake']) ? [] : ['cmake']),
    ...(foundOnPath(compilers) ? [] : [`a C compiler (${compilers.join(', ')})`]),
  ];
}

/** Runs one CMake step; the first error line of its output, or null when it succeeded. */
function failedStep(args, log) {
  const result = spawnSync('cmake', args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  log.push(`$ cmake ${args.join(' ')}`, output);
  if (result.status === 0) return null;
  return (
    output
      .split('\n')
      .find((line) => /error/i.test(line))
      ?.trim() ?? `cmake exited with ${result.status}`
  );
}

const missing = missingTools();
if (missing.length > 0) {
  const verb = missing.length > 1 ? 'are' : 'is';
  // A packed toolkit carries engines built elsewhere (native/tools/prebuild.mjs); the loader finds them itself.
  const prebuilt = join(root, 'native', 'prebuilt', `${process.platform}-${process.arch}`, ENGINE_FILE);
  if (existsSync(prebuilt)) {
    console.log(
      `effnet-edge: using the prebuilt int8 engine ${shown(prebuilt)} (${missing.join(' and ')} ${verb} not on PATH)`,
    );
    process.exit(0);
  }
  console.log(`effnet-edge: the int8 engine is not built: ${missing.join(' and ')} ${verb} not on PATH; ${FALLBACK}.`);
  console.log(FIX);
  process.exit(0);
}
const log = [];
const failure =
  failedStep(['-S', join(root, 'native'), '-B', buildDir, '-DEFFNET_EDGE_TENSORRT=AUTO'], log) ??
  failedStep(['--build', buildDir, '--parallel'], log);
if (failure === null) {
  console.log(`effnet-edge: built the int8 engine ${shown(join(buildDir, ENGINE_FILE))}`);
  process.exit(0);
}
mkdirSync(buildDir, { recursive: true });
const logPath = join(buildDir, 'install.log');
writeFileSync(logPath, `${log.join('\n')}\n`);
console.log(`effnet-edge: the int8 engine did not build (${failure}; log: ${shown(logPath)}); ${FALLBACK}.`);
console.log(FIX);
