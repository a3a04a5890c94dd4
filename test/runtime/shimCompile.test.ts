import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { allTargets } from '../../targets/load.js';
import { REPO_ROOT } from '../helpers/paths.js';

const header = join(REPO_ROOT, 'native', 'effnet_trt.h');

t.test('the shim header is plain C', async (t) => {
  execFileSync('gcc', ['-std=c99', '-Wall', '-Wextra', '-pedantic', '-Werror', '-fsyntax-only', '-x', 'c', header]);
  t.pass('gcc -std=c99 -pedantic accepts native/effnet_trt.h');
});

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
    const compiled: string[] = [];
    for (const include of folders) {
      const version = versionIn(include);
      execFileSync('g++', [
        '-std=c++17',
        '-Wall',
        '-Wextra',
        '-Werror',
        '-fsyntax-only',
        `-I${join(REPO_ROOT, 'native')}`,
        `-I${include}`,
        `-I${cudaInclude}`,
        join(REPO_ROOT, 'native', 'effnet_trt.cpp'),
      ]);
      t.pass(`compiles against TensorRT ${version} (${include})`);
      compiled.push(version);
    }
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
