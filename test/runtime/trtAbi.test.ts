import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import koffi from 'koffi';
import { REPO_ROOT } from '../helpers/paths.js';
import {
  TRT_DTYPE,
  TRT_PRECISION,
  TRT_PROTOTYPES,
  TRT_QUANT_MODE,
  TRT_STATUS,
  TRT_STRUCTS,
  TRT_VERBOSITY,
  TRT_ABI_VERSION,
  TrtRunner,
  registerTrtTypes,
  trtUnavailableReason,
} from '../../toolkit/runtime/trt.js';

const header = readFileSync(join(REPO_ROOT, 'native', 'effnet_trt.h'), 'utf8');
const code = header.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
const squash = (s: string) =>
  s
    .replace(/\s+/g, ' ')
    .replace(/\s*([(),*])\s*/g, '$1')
    .trim();
const macro = (name: string) => Number(new RegExp(`#define ${name} (\\d+)`).exec(code)![1]);

t.test("every koffi prototype is the header's, and every header function is declared", async (t) => {
  const declared = [...code.matchAll(/^(?!typedef|#)[^;{}#]*?\beffnet_trt_\w+\s*\([^;]*\)\s*;/gm)].map((m) =>
    squash(m[0].replace(/;$/, '')),
  );
  t.ok(declared.length >= 9, `${declared.length} functions in the header`);
  t.strictSame([...declared].sort(), TRT_PROTOTYPES.map((p) => squash(p.replace(/_Out_ /g, ''))).sort());
  t.equal(macro('EFFNET_TRT_ABI_VERSION'), TRT_ABI_VERSION);
});

t.test('struct fields match the header', async (t) => {
  for (const [name, fields] of Object.entries(TRT_STRUCTS)) {
    const body = new RegExp(`typedef struct ${name} \\{([\\s\\S]*?)\\} ${name};`).exec(code);
    t.ok(body, `${name} in the header`);
    const parsed = body![1]!
      .split(';')
      .map((f) => f.trim())
      .filter(Boolean)
      .map((f) => {
        const m = /^(.*?)\s*(\w+(?:\[\w+\])?)$/.exec(f.replace(/\s+/g, ' '))!;
        return [
          m[1]!.replace(/\s*\*\s*$/, ' *').trim(),
          m[2]!.replace(/\[(\w+)\]/, (_, n: string) => `[${/^\d+$/.test(n) ? n : macro(n)}]`),
        ];
      });
    t.strictSame(
      parsed,
      fields.map(([type, declarator]) => [type, declarator]),
      name,
    );
  }
});

t.test('enum values match the header', async (t) => {
  const value = (name: string) => Number(new RegExp(`\\b${name} = (\\d+)`).exec(code)![1]);
  TRT_STATUS.forEach((s, i) => t.equal(value(`EFFNET_TRT_${s}`), i, s));
  t.equal(value('EFFNET_TRT_FP32'), TRT_PRECISION.fp32);
  t.equal(value('EFFNET_TRT_FP16'), TRT_PRECISION.fp16);
  t.equal(value('EFFNET_TRT_INT8'), TRT_PRECISION.int8);
  t.equal(value('EFFNET_TRT_EXPLICIT_QDQ'), TRT_QUANT_MODE['explicit-qdq']);
  t.equal(value('EFFNET_TRT_IMPLICIT_CACHE'), TRT_QUANT_MODE['implicit-cache']);
  t.equal(value('EFFNET_TRT_PROFILE_LAYER_NAMES'), TRT_VERBOSITY['layer-names']);
  t.equal(value('EFFNET_TRT_PROFILE_NONE'), TRT_VERBOSITY.none);
  t.equal(value('EFFNET_TRT_PROFILE_DETAILED'), TRT_VERBOSITY.detailed);
  for (const [v, name] of [
    [0, 'FLOAT'],
    [1, 'HALF'],
    [2, 'INT8'],
    [3, 'INT32'],
    [99, 'OTHER'],
  ] as const) {
    t.equal(value(`EFFNET_TRT_DTYPE_${name}`), v);
    t.ok(TRT_DTYPE[v], `dtype ${v} mapped`);
  }
});

t.test("koffi struct layouts equal the C compiler's (sizeof and offsetof)", async (t) => {
  registerTrtTypes();
  const dir = t.testdir();
  const fields = Object.entries(TRT_STRUCTS).flatMap(([name, list]) =>
    list.map(([, d]) => [name, d.replace(/\[.*$/, '')] as const),
  );
  const program = [
    '#include <stdio.h>',
    '#include <stddef.h>',
    `#include "${join(REPO_ROOT, 'native', 'effnet_trt.h')}"`,
    'int main(void) {',
    ...Object.keys(TRT_STRUCTS).map((name) => `  printf("${name} %zu\\n", sizeof(${name}));`),
    ...fields.map(([name, field]) => `  printf("${name}.${field} %zu\\n", offsetof(${name}, ${field}));`),
    '  return 0;',
    '}',
  ].join('\n');
  writeFileSync(join(dir, 'layout.c'), program);
  execFileSync('gcc', ['-std=c99', '-o', join(dir, 'layout'), join(dir, 'layout.c')]);
  const measured = new Map(
    execFileSync(join(dir, 'layout'), { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((l) => l.split(' ') as [string, string]),
  );
  for (const name of Object.keys(TRT_STRUCTS))
    t.equal(koffi.sizeof(name), Number(measured.get(name)), `sizeof(${name})`);
  for (const [name, field] of fields)
    t.equal(koffi.offsetof(name, field), Number(measured.get(`${name}.${field}`)), `offsetof(${name}, ${field})`);
});

t.test('actionable errors where the shim or TensorRT is missing', async (t) => {
  const saved = process.env.EFFNET_EDGE_TRT_LIB;
  t.teardown(() => {
    if (saved === undefined) delete process.env.EFFNET_EDGE_TRT_LIB;
    else process.env.EFFNET_EDGE_TRT_LIB = saved;
  });
  const dir = t.testdir({ 'not-a-library.so': 'plain text' });
  process.env.EFFNET_EDGE_TRT_LIB = join(dir, 'missing.so');
  t.throws(() => TrtRunner.create({ enginePath: 'x.plan', dlaCore: -1 }), {
    message: `the TensorRT shim is not built (${join(dir, 'missing.so')} is missing); on the Jetson run: effnet-edge native build --tensorrt`,
  });
  t.equal(
    trtUnavailableReason(),
    `TensorRT not found (the TensorRT shim is not built (${join(dir, 'missing.so')} is missing); on the Jetson run: effnet-edge native build --tensorrt)`,
  );
});
