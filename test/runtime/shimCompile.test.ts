import t from 'tap';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/paths.js';

const header = join(REPO_ROOT, 'native', 'effnet_trt.h');

t.test('the shim header is plain C', async (t) => {
  execFileSync('gcc', ['-std=c99', '-Wall', '-Wextra', '-pedantic', '-Werror', '-fsyntax-only', '-x', 'c', header]);
  t.pass('gcc -std=c99 -pedantic accepts native/effnet_trt.h');
});

// TensorRT's public headers are not in the repository (FACTS.md says how to get them); point
// EFFNET_EDGE_TRT_HEADERS at one or more include folders (colon-separated) to compile-check the shim against each.
const folders = (process.env.EFFNET_EDGE_TRT_HEADERS ?? '').split(':').filter(Boolean);
t.test('the shim compiles against TensorRT\'s headers', { skip: folders.length ? false : 'TensorRT headers not found (set EFFNET_EDGE_TRT_HEADERS)' }, async (t) => {
  for (const include of folders) {
    execFileSync('g++', ['-std=c++17', '-Wall', '-Wextra', '-Werror', '-fsyntax-only', `-I${join(REPO_ROOT, 'native')}`, `-I${include}`, '-I/usr/local/cuda/include', join(REPO_ROOT, 'native', 'effnet_trt.cpp')]);
    t.pass(`compiles against ${include}`);
  }
});
