/**
 * `effnet-edge native build`: configure and compile the native libraries with CMake: the int8 engine for CPUs
 * always (plain C, no TensorRT), and the TensorRT shim where TensorRT is installed (`--tensorrt` requires it).
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { UsageError, UserError } from '../../errors.js';
import { packagePath } from '../../packagePaths.js';
import type { Command, OptionGroup } from '../command.js';
import { outputsChecked } from '../outputs.js';
import { stringOption } from '../command.js';
import { progressBar } from '../progress.js';

/** The line of a CMake or compiler log that says what went wrong. */
export function firstErrorLine(log: string): string {
  const lines = log.split('\n');
  const at = lines.findIndex((l) => /CMake Error|error:|FATAL_ERROR|No such file|not found/i.test(l));
  if (at < 0)
    return (
      lines
        .filter((l) => l.trim())
        .at(-1)
        ?.trim() ?? 'no output'
    );
  if (!/CMake Error/.test(lines[at]!)) return lines[at]!.trim();
  // CMake wraps the message over the indented lines after "CMake Error at …:", up to a blank line.
  const rest = lines.slice(at + 1);
  const start = rest.findIndex((l) => l.trim());
  // A message from inside a macro is followed by its call stack without a blank line between.
  const end = rest.findIndex((l, i) => i > start && (!l.trim() || /^Call Stack/.test(l.trim())));
  return (
    rest
      .slice(start, end < 0 ? undefined : end)
      .map((l) => l.trim())
      .join(' ') || lines[at]!.trim()
  );
}

/** Why CMake's AUTO mode left the TensorRT shim out, from its configure log (native/CMakeLists.txt says it so). */
export function shimSkipReason(log: string): string | null {
  return /-- Not building the TensorRT shim: (.*)\. Building the int8 engine only\./.exec(log)?.[1] ?? null;
}

const NATIVE_GROUP: OptionGroup = [
  {
    name: 'tensorrt',
    type: 'boolean',
    help: 'require the TensorRT shim (default: build it only where TensorRT is found)',
  },
  {
    name: 'tensorrt-include',
    type: 'string',
    placeholder: 'DIR',
    help: "folder with NvInfer.h and NvOnnxParser.h (default: JetPack's /usr/include/aarch64-linux-gnu)",
  },
  {
    name: 'tensorrt-lib',
    type: 'string',
    placeholder: 'DIR',
    help: 'folder with libnvinfer and libnvonnxparser (default: /usr/lib/aarch64-linux-gnu)',
  },
  {
    name: 'build-dir',
    type: 'string',
    placeholder: 'DIR',
    help: 'where to build (default: native/build in the package, where effnet-edge looks)',
  },
];

export const nativeCommand: Command = {
  name: 'native',
  summary: 'Build the int8 CPU engine and, where TensorRT is installed, the TensorRT shim (CMake + a C compiler).',
  usage: 'effnet-edge native build [--tensorrt] [--tensorrt-include DIR] [--tensorrt-lib DIR] [--build-dir DIR]',
  examples: [
    'effnet-edge native build',
    'effnet-edge native build --tensorrt',
    'effnet-edge native build --tensorrt-include /opt/TensorRT/include --tensorrt-lib /opt/TensorRT/lib',
  ],
  positionals: true,
  groups: [NATIVE_GROUP],
  async run(args, io) {
    if (args.positionals.length !== 1 || args.positionals[0] !== 'build')
      throw new UsageError(`expected 'native build', got 'native ${args.positionals.join(' ')}'`);
    const source = packagePath('native');
    const build = resolve(stringOption(args, 'build-dir') ?? join(source, 'build'));
    outputsChecked({
      outputs: [{ flag: '--build-dir', path: build }],
      inputs: [{ flag: 'the native sources', path: join(source, 'int8') }],
    });
    await mkdir(build, { recursive: true }).catch(() => {
      throw new UserError(`${build}: cannot create the build folder; choose another with --build-dir`);
    });
    const requireTrt =
      args.values.tensorrt === true ||
      Boolean(stringOption(args, 'tensorrt-include') ?? stringOption(args, 'tensorrt-lib'));
    const defines = [
      `-DEFFNET_EDGE_TENSORRT=${requireTrt ? 'ON' : 'AUTO'}`,
      ...(stringOption(args, 'tensorrt-include')
        ? [`-DTENSORRT_INCLUDE_DIR=${resolve(stringOption(args, 'tensorrt-include')!)}`]
        : []),
      ...(stringOption(args, 'tensorrt-lib')
        ? [`-DTENSORRT_LIB_DIR=${resolve(stringOption(args, 'tensorrt-lib')!)}`]
        : []),
    ];
    const logPath = join(build, 'build.log');
    let log = '';
    const bar = progressBar({ label: 'native build', unit: 'step' });
    // `--parallel` needs CMake 3.12 and JetPack 4 has 3.10: the native tool's -j (make and ninja both take it).
    const jobs = `-j${Math.max(1, availableParallelism())}`;
    // The int8 engine first, so that a shim that fails to compile does not take the CPU engine down with it.
    const steps: [string, string[]][] = [
      ['configuring', ['-S', source, '-B', build, ...defines]],
      ['compiling the int8 engine', ['--build', build, '--target', 'effnet_int8', '--', jobs]],
      ['compiling the TensorRT shim', ['--build', build, '--', jobs]],
    ];
    for (const [index, [stage, cmakeArgs]] of steps.entries()) {
      bar.update(index, steps.length);
      const result = await execa('cmake', cmakeArgs, { all: true, reject: false });
      log += `$ cmake ${cmakeArgs.join(' ')}\n${result.all ?? ''}\n`;
      await writeFile(logPath, log);
      if (result.failed) {
        if ((result as { code?: string }).code === 'ENOENT')
          throw new UserError('cmake not found; install it (apt install cmake) and run effnet-edge native build again');
        const built = index === 2 ? ` (${join(build, 'libeffnet_int8.so')} is built)` : '';
        throw new UserError(
          `native build failed while ${stage}: ${firstErrorLine(result.all ?? '').replace(/[.\s]+$/, '')}${built}; full log: ${logPath}`,
        );
      }
    }
    bar.update(steps.length, steps.length);
    io.stdout(`built ${join(build, 'libeffnet_int8.so')}\n`);
    if (existsSync(join(build, 'libeffnet_trt.so'))) io.stdout(`built ${join(build, 'libeffnet_trt.so')}\n`);
    else
      io.stdout(
        `${shimSkipReason(log) ?? 'TensorRT not found'}: built the int8 engine only (--tensorrt requires the TensorRT shim)\n`,
      );
    return 0;
  },
};
