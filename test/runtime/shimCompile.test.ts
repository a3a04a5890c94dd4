import t from 'tap';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { allTargets } from '../../targets/load.js';
import { REPO_ROOT } from '../helpers/paths.js';

const native = join(REPO_ROOT, 'native');
const header = join(native, 'effnet_trt.h');
const run = promisify(execFile);

/** The shim's source files (relative to native/), from the one list native/CMakeLists.txt builds the library from. */
function shimSources(): string[] {
  const cmakeLists = readFileSync(join(native, 'CMakeLists.txt'), 'utf8');
  const list = /^set\(EFFNET_TRT_SOURCES\s([^)]*)\)/m.exec(cmakeLists)?.[1];
  if (list === undefined) throw new Error('native/CMakeLists.txt has no set(EFFNET_TRT_SOURCES …)');
  return list.split(/\s+/).filter(Boolean);
}

/** Runs every job, at most `limit` at a time; rejects with the first failure. */
async function inPool(limit: number, jobs: (() => Promise<unknown>)[]): Promise<void> {
  const queue = [...jobs];
  const worker = async () => {
    for (let job = queue.shift(); job !== undefined; job = queue.shift()) await job();
  };
  await Promise.all(Array.from({ length: Math.max(1, limit) }, worker));
}

t.test('the shim header is plain C', async (t) => {
  execFileSync('gcc', ['-std=c99', '-Wall', '-Wextra', '-pedantic', '-Werror', '-fsyntax-only', '-x', 'c', header]);
  t.pass('gcc -std=c99 -pedantic accepts native/effnet_trt.h');
});

t.test(
  'CMake builds the shim from effnet_trt.cpp and every source file in native/trt, so none escapes the compile check',
  async (t) => {
    const inFolder = readdirSync(join(native, 'trt'))
      .filter((name) => name.endsWith('.cpp'))
      .map((name) => `trt/${name}`);
    t.strictSame(shimSources().sort(), ['effnet_trt.cpp', ...inFolder].sort());
  },
);

/** major.minor.patch from an NvInferVersion.h (8.x: numbers; 10.x and later: TRT_*_ENTERPRISE). */
function versionIn(include: string): string {
  const text = readFileSync(join(include, 'NvInferVersion.h'), 'utf8');
  const part = (name: string) =>
    /#define NV_TENSORRT_(?:MAJOR|MINOR|PATCH) +(\d+)/.test(text)
      ? new RegExp(`#define NV_TENSORRT_${name} +(\\d+)`).exec(text)?.[1]
      : new RegExp(`#define TRT_${name}_ENTERPRISE +(\\d+)`).exec(text)?.[1];
  return ['MAJOR', 'MINOR', 'PATCH'].map(part).join('.');
}

// TensorRT's public headers are not in the repository: native/tools/trt-headers.sh assembles one include folder per
// release from git copies of NVIDIA/TensorRT and onnx/onnx-tensorrt. EFFNET_EDGE_TRT_HEADERS lists them (colon-separated).
const folders = (process.env.EFFNET_EDGE_TRT_HEADERS ?? '').split(':').filter(Boolean);
const cudaInclude = process.env.EFFNET_EDGE_CUDA_INCLUDE ?? '/usr/local/cuda/include';
const skip =
  folders.length === 0
    ? 'TensorRT headers not found (set EFFNET_EDGE_TRT_HEADERS; native/tools/trt-headers.sh makes them)'
    : !existsSync(join(cudaInclude, 'cuda_runtime_api.h'))
      ? `CUDA headers not found in ${cudaInclude} (set EFFNET_EDGE_CUDA_INCLUDE)`
      : false;

t.test(
  'the shim compiles with -Wall -Wextra -Werror against every TensorRT release given, and those cover every target',
  { skip },
  async (t) => {
    const sources = shimSources();
    const releases = folders.map((include) => ({ include, version: versionIn(include) }));
    // Every (release, file) pair is its own g++: the files are separate translation units in the real build too.
    const compile = (include: string, source: string) =>
      run('g++', [
        '-std=c++17',
        '-Wall',
        '-Wextra',
        '-Werror',
        '-fsyntax-only',
        `-I${native}`,
        `-I${include}`,
        `-I${cudaInclude}`,
        join(native, source),
      ]);
    await inPool(
      availableParallelism(),
      releases.flatMap(({ include }) => sources.map((source) => () => compile(include, source))),
    );
    for (const { include, version } of releases) t.pass(`compiles against TensorRT ${version} (${include})`);
    const compiled = releases.map((x) => x.version);
    for (const target of allTargets().filter((x) => x.tensorrt)) {
      for (const release of target.tensorrt!) {
        t.ok(
          compiled.some((v) => v.startsWith(`${release}.`)),
          `${target.name}'s TensorRT ${release} was among them`,
        );
      }
    }
  },
);
