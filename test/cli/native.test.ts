import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { firstErrorLine, shimSkipReason } from '../../toolkit/cli/commands/native.js';

t.test('native build without TensorRT fails at configure with the reason and the log', async (t) => {
  const dir = t.testdir();
  const result = await runCli(['native', 'build', '--build-dir', dir, '--tensorrt-include', join(dir, 'nowhere')]);
  t.equal(result.code, 1);
  t.match(result.stderr, /^effnet-edge native: native build failed while configuring: /);
  t.ok(result.stderr.endsWith(`; full log: ${join(dir, 'build.log')}\n`), result.stderr);
  t.ok(existsSync(join(dir, 'build.log')));
  t.match(readFileSync(join(dir, 'build.log'), 'utf8'), /^\$ cmake -S .*native -B /);
  const usage = await runCli(['native', 'make']);
  t.equal(usage.code, 2);
  t.equal(
    usage.stderr,
    "effnet-edge native: expected 'native build', got 'native make'\nRun 'effnet-edge native --help' for usage.\n",
  );
});

t.test('the CMake error message is unwrapped', async (t) => {
  const log =
    "-- The CXX compiler identification is GNU\nCMake Error at CMakeLists.txt:27 (message):\n  NvInfer.h or NvOnnxParser.h not found\n  in TENSORRT_INCLUDE_DIR='/x'.\n\n\n-- Configuring incomplete\n";
  t.equal(firstErrorLine(log), "NvInfer.h or NvOnnxParser.h not found in TENSORRT_INCLUDE_DIR='/x'.");
  t.equal(firstErrorLine('a.cpp:3:1: error: expected ;\n'), 'a.cpp:3:1: error: expected ;');
});

/** A folder that looks like a TensorRT install to CMake: empty headers and an NvInferVersion.h with these lines. */
function fakeTensorrt(dir: string, versionLines: string[]): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'NvInfer.h'), '');
  writeFileSync(join(dir, 'NvOnnxParser.h'), '');
  writeFileSync(join(dir, 'NvInferVersion.h'), `${versionLines.join('\n')}\n`);
  return dir;
}

const configure = (args: string[]) =>
  spawnSync('cmake', ['-S', join(REPO_ROOT, 'native'), ...args], { encoding: 'utf8' });

t.test(
  'CMake AUTO reads NvInferVersion.h, skips a TensorRT the shim does not support with the reason, and keeps the int8 engine',
  async (t) => {
    const dir = t.testdir();
    const old = fakeTensorrt(join(dir, 'trt7'), [
      '#define NV_TENSORRT_MAJOR 7 //!< TensorRT major version.',
      '#define NV_TENSORRT_MINOR 2',
      '#define NV_TENSORRT_PATCH 3',
    ]);
    const auto = configure(['-B', join(dir, 'auto'), `-DTENSORRT_INCLUDE_DIR=${old}`]);
    t.equal(auto.status, 0, auto.stderr);
    t.equal(
      shimSkipReason(auto.stdout),
      `TensorRT 7.2.3 in '${old}' is older than 8.0, the oldest the shim supports: upgrade JetPack (4.6 ships TensorRT 8.0) or build engines with that TensorRT's trtexec`,
    );
    const required = configure(['-B', join(dir, 'on'), `-DTENSORRT_INCLUDE_DIR=${old}`, '-DEFFNET_EDGE_TENSORRT=ON']);
    t.not(required.status, 0, 'ON refuses it');
    t.equal(
      firstErrorLine(required.stderr),
      `TensorRT 7.2.3 in '${old}' is older than 8.0, the oldest the shim supports: upgrade JetPack (4.6 ships TensorRT 8.0) or build engines with that TensorRT's trtexec`,
    );
    // 10.x and later define the numbers as TRT_*_ENTERPRISE and NV_TENSORRT_* as those names.
    const ten = fakeTensorrt(join(dir, 'trt10'), [
      '#define TRT_MAJOR_ENTERPRISE 10',
      '#define TRT_MINOR_ENTERPRISE 16',
      '#define TRT_PATCH_ENTERPRISE 0',
      '#define NV_TENSORRT_MAJOR TRT_MAJOR_ENTERPRISE',
      '#define NV_TENSORRT_MINOR TRT_MINOR_ENTERPRISE',
      '#define NV_TENSORRT_PATCH TRT_PATCH_ENTERPRISE',
    ]);
    const modern = configure([
      '-B',
      join(dir, 'ten'),
      `-DTENSORRT_INCLUDE_DIR=${ten}`,
      `-DTENSORRT_LIB_DIR=${ten}`,
      '-DCUDA_ROOT=/usr/local/cuda',
    ]);
    t.equal(modern.status, 0, modern.stderr);
    t.match(modern.stdout, `-- TensorRT 10.16.0 in '${ten}'`);
    t.match(
      shimSkipReason(modern.stdout),
      /^(libnvinfer or libnvonnxparser not found in TENSORRT_LIB_DIR=|CUDA not found under CUDA_ROOT=)/,
      'then a missing library is a reason to skip too',
    );
    const none = configure(['-B', join(dir, 'none'), `-DTENSORRT_INCLUDE_DIR=${join(dir, 'nowhere')}`]);
    t.equal(
      shimSkipReason(none.stdout),
      `TensorRT not found: NvInfer.h or NvOnnxParser.h missing in TENSORRT_INCLUDE_DIR='${join(dir, 'nowhere')}': on JetPack install the TensorRT development packages (libnvinfer-dev, libnvonnxparsers-dev), elsewhere pass -DTENSORRT_INCLUDE_DIR=<TensorRT>/include`,
    );
  },
);

t.test('the CMake project asks for no newer CMake than JetPack 4 ships (3.10)', async (t) => {
  const text = readFileSync(join(REPO_ROOT, 'native', 'CMakeLists.txt'), 'utf8');
  t.match(text, /^cmake_minimum_required\(VERSION 3\.10\.\.\.3\.\d+\)$/m);
  t.notMatch(text, /find_package\(CUDAToolkit/, 'FindCUDAToolkit needs 3.17');
  const native = readFileSync(join(REPO_ROOT, 'toolkit', 'cli', 'commands', 'native.ts'), 'utf8');
  t.notMatch(native, /'--parallel'/, 'cmake --build --parallel needs 3.12');
});
