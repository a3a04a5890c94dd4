import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { firstErrorLine } from '../../toolkit/cli/commands/native.js';

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
  t.equal(usage.stderr, "effnet-edge native: expected 'native build', got 'native make'\nRun 'effnet-edge native --help' for usage.\n");
});

t.test('the CMake error message is unwrapped', async (t) => {
  const log = '-- The CXX compiler identification is GNU\nCMake Error at CMakeLists.txt:27 (message):\n  NvInfer.h or NvOnnxParser.h not found\n  in TENSORRT_INCLUDE_DIR=\'/x\'.\n\n\n-- Configuring incomplete\n';
  t.equal(firstErrorLine(log), "NvInfer.h or NvOnnxParser.h not found in TENSORRT_INCLUDE_DIR='/x'.");
  t.equal(firstErrorLine('a.cpp:3:1: error: expected ;\n'), 'a.cpp:3:1: error: expected ;');
});
