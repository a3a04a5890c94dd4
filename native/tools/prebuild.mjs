#!/usr/bin/env node
/**
 * The prebuilt int8 engines the packed toolkit carries, so that a device needs no compiler: for each platform named
 * (default: all of PREBUILT_PLATFORMS), CMake builds native/ with TensorRT off into native/build/prebuilt-<platform>
 * (with the host's compiler on that architecture, else the cross compiler through a toolchain file) and the library
 * is copied to native/prebuilt/<platform>/libeffnet_int8.so. Release flags only: no -march, the engine picks its
 * kernels at run time, so one file runs on every CPU of the architecture. Run by `npm pack` (prepack) and by
 * `deploy --install`'s staging.
 *
 *   node native/tools/prebuild.mjs [linux-x64] [linux-arm64]
 *
 * Exit 0: built; 2: a compiler or CMake is missing (the message names the apt packages); 1: the build failed.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENGINE_FILE, foundOnPath, PREBUILT_PLATFORMS } from './toolchain.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');

function fail(code, message) {
  console.error(`effnet-edge: ${message}`);
  process.exit(code);
}

/** The CMake configure arguments for `key`, or a refusal naming what is missing. */
function configureArgs(key, buildDir) {
  const platform = PREBUILT_PLATFORMS[key];
  if (!platform)
    fail(1, `no prebuilt engine for '${key}': expected one of ${Object.keys(PREBUILT_PLATFORMS).join(', ')}`);
  if (!foundOnPath(['cmake']))
    fail(2, `cannot build the prebuilt ${key} engine: cmake is not on PATH; install it: sudo apt-get install cmake`);
  const native = platform.arch === process.arch && process.platform === 'linux';
  const compiler = native ? (process.env.CC ?? 'cc') : platform.compiler;
  if (!foundOnPath([compiler]))
    fail(
      2,
      `cannot build the prebuilt ${key} engine: ${compiler} is not on PATH; install it: sudo apt-get install ${native ? 'gcc' : platform.apt}`,
    );
  return [
    ...['-S', join(root, 'native'), '-B', buildDir, '-DEFFNET_EDGE_TENSORRT=OFF', '-DCMAKE_BUILD_TYPE=Release'],
    // No build paths in the binary: the same sources give the same file on any machine.
    `-DCMAKE_C_FLAGS=-ffile-prefix-map=${root}=.`,
    ...(native ? [] : [`-DCMAKE_TOOLCHAIN_FILE=${join(here, 'linux-cross.cmake')}`]),
  ];
}

function cmake(args, key) {
  const env = { ...process.env, EFFNET_EDGE_CROSS_PROCESSOR: PREBUILT_PLATFORMS[key].processor };
  const result = spawnSync('cmake', args, { cwd: root, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (result.status === 0) return;
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  const line = output.split('\n').find((l) => /error/i.test(l)) ?? `cmake exited with ${result.status}`;
  fail(1, `the prebuilt ${key} engine did not build: ${line.trim()}`);
}

const keys = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(PREBUILT_PLATFORMS);
for (const key of keys) {
  const buildDir = join(root, 'native', 'build', `prebuilt-${key}`);
  cmake(configureArgs(key, buildDir), key);
  cmake(['--build', buildDir, '--target', 'effnet_int8', '--parallel'], key);
  const out = join(root, 'native', 'prebuilt', key);
  mkdirSync(out, { recursive: true });
  copyFileSync(join(buildDir, ENGINE_FILE), join(out, ENGINE_FILE));
  console.log(`effnet-edge: prebuilt engine ${relative(root, join(out, ENGINE_FILE))}`);
}
