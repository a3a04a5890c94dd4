/**
 * Each fused kernel of the int8 engine against a naive TypeScript reference of the documented integer semantics
 * (native/int8/README.md), on odd shapes (channel counts that are not multiples of 8 or 16, odd spatial sizes,
 * padding on every edge), and every SIMD path this CPU has against the scalar path, bit for bit.
 */
import t, { type Test } from 'tap';
import { Prng } from '../../../toolkit/model/prng.js';
import { roundHalfToEven } from '../../../toolkit/numbers.js';
import { conv, depthwise, edgeLayer, int8s, nearHalfLayer, type Shape } from '../../helpers/int8Layers.js';
import { clampInt8, requantize } from '../../../toolkit/runtime/int8/fixedPoint.js';
import { engineFileFrom } from '../../../toolkit/runtime/int8/engineFile.js';
import type {
  ConvLayer,
  DepthwiseLayer,
  EngineLayer,
  EngineProgram,
  SeLayer,
} from '../../../toolkit/runtime/int8/lower.js';
import {
  Int8Engine,
  int8IsaSupported,
  int8UnavailableReason,
  type Int8Isa,
} from '../../../toolkit/runtime/int8/native.js';

/** Single layers of every kind and shape class, each against the reference on every path. */
const LAYER_CASES: { name: string; input: Shape; make: (prng: Prng, shape: Shape) => ConvLayer | DepthwiseLayer }[] = [
  {
    name: 'stem 3x3/s2 conv, 3 → 13 channels, 9x7 input',
    input: { h: 9, w: 7, c: 3 },
    make: (p, s) => conv(p, 'x', 'y', s, 13, 3, 2, [1, 1, 1, 1]),
  },
  {
    name: 'pixel-quad conv 5x5/s1, 4 → 40 channels (an odd count of 16-channel groups), 8x6, asymmetric padding',
    input: { h: 8, w: 6, c: 4 },
    make: (p, s) => conv(p, 'x', 'y', s, 40, 5, 1, [1, 2, 2, 1]),
  },
  {
    name: 'pixel-quad conv 3x3/s2, 2 → 24 channels, 7x10',
    input: { h: 7, w: 10, c: 2 },
    make: (p, s) => conv(p, 'x', 'y', s, 24, 3, 2, [1, 1, 1, 1]),
  },
  {
    name: 'pointwise 1x1, 21 → 35 channels (not multiples of 8/16), 5x3',
    input: { h: 5, w: 3, c: 21 },
    make: (p, s) => conv(p, 'x', 'y', s, 35, 1, 1, [0, 0, 0, 0]),
  },
  {
    name: 'pointwise 1x1, 24 → 16 (one lone 16-channel group, rows in 8s then 4), 5x5',
    input: { h: 5, w: 5, c: 24 },
    make: (p, s) => conv(p, 'x', 'y', s, 16, 1, 1, [0, 0, 0, 0]),
  },
  {
    name: 'pointwise without activation, 40 → 17, 11x1',
    input: { h: 11, w: 1, c: 40 },
    make: (p, s) => conv(p, 'x', 'y', s, 17, 1, 1, [0, 0, 0, 0], { table: null }),
  },
  {
    name: 'depthwise 3x3/s1, 37 channels, 7x5',
    input: { h: 7, w: 5, c: 37 },
    make: (p, s) => depthwise(p, 'x', 'y', s.c, 3, 1, [1, 1, 1, 1]),
  },
  {
    name: 'depthwise 3x3/s1, 32 channels (pixel pairs on AVX-512, the last one alone), 6x7',
    input: { h: 6, w: 7, c: 32 },
    make: (p, s) => depthwise(p, 'x', 'y', s.c, 3, 1, [1, 1, 1, 1]),
  },
  {
    name: 'depthwise 3x3/s2, 19 channels, 9x9',
    input: { h: 9, w: 9, c: 19 },
    make: (p, s) => depthwise(p, 'x', 'y', s.c, 3, 2, [1, 1, 1, 1]),
  },
  {
    name: 'depthwise 5x5/s1, 48 channels, 6x7',
    input: { h: 6, w: 7, c: 48 },
    make: (p, s) => depthwise(p, 'x', 'y', s.c, 5, 1, [2, 2, 2, 2]),
  },
  {
    name: 'depthwise 3x3/s1, 100 channels (a 64-channel block and 36 more), 5x6',
    input: { h: 5, w: 6, c: 100 },
    make: (p, s) => depthwise(p, 'x', 'y', s.c, 3, 1, [1, 1, 1, 1]),
  },
  {
    name: 'depthwise 5x5/s2, 160 channels (two 64-channel blocks and 32 more), 7x7',
    input: { h: 7, w: 7, c: 160 },
    make: (p, s) => depthwise(p, 'x', 'y', s.c, 5, 2, [2, 2, 2, 2]),
  },
  {
    name: 'depthwise 5x5/s2, 33 channels, 11x8, asymmetric padding',
    input: { h: 11, w: 8, c: 33 },
    make: (p, s) => depthwise(p, 'x', 'y', s.c, 5, 2, [1, 2, 2, 1]),
  },
  // An input with a zero point (a SiLU's uint8 output): padding reads the zero, on every path.
  {
    name: 'depthwise 3x3/s1, 37 channels, 7x5, input zero point -117',
    input: { h: 7, w: 5, c: 37 },
    make: (p, s) => depthwise(p, 'x', 'y', s.c, 3, 1, [1, 1, 1, 1], { inputZero: -117 }),
  },
  {
    name: 'depthwise 5x5/s2, 160 channels, 7x7, input zero point 90',
    input: { h: 7, w: 7, c: 160 },
    make: (p, s) => depthwise(p, 'x', 'y', s.c, 5, 2, [2, 2, 2, 2], { inputZero: 90 }),
  },
  {
    name: 'stem 3x3/s2 conv, 3 → 13 channels, 9x7 input, input zero point -100',
    input: { h: 9, w: 7, c: 3 },
    make: (p, s) => conv(p, 'x', 'y', s, 13, 3, 2, [1, 1, 1, 1], { inputZero: -100 }),
  },
  {
    name: 'conv 3x3/s1, 21 → 19 channels, 6x5, input zero point 127',
    input: { h: 6, w: 5, c: 21 },
    make: (p, s) => conv(p, 'x', 'y', s, 19, 3, 1, [1, 1, 1, 1], { inputZero: 127 }),
  },
  {
    name: 'pointwise 1x1, 21 → 35 channels, 5x3, input zero point -128',
    input: { h: 5, w: 3, c: 21 },
    make: (p, s) => conv(p, 'x', 'y', s, 35, 1, 1, [0, 0, 0, 0], { inputZero: -128 }),
  },
];

const unavailable = int8UnavailableReason();
if (unavailable)
  t.test('the int8 engine kernels', { skip: `the int8 engine is not built: ${unavailable}` }, async () => {});
else runAll();

const f = Math.fround;
/** The engine's float → stored int8 (quantize_value_around): clamp to ±256, round half to even, add the zero, saturate. */
const floatToInt8 = (v: number, zero = 0) => clampInt8(roundHalfToEven(Math.min(256, Math.max(-256, v))) + zero);

/** The naive reference: NHWC int8 in, NHWC int8 out, one layer at a time. */
function reference(
  layer: EngineLayer,
  x: Int8Array,
  shape: Shape,
  tensors: Map<string, Int8Array>,
): { out: Int8Array; shape: Shape } {
  if (layer.kind !== 'conv' && layer.kind !== 'depthwise') throw new Error('reference covers conv and depthwise');
  const [kh, kw] = layer.kernel;
  const [pt, pl, pb, pr] = layer.pads;
  const oh = Math.floor((shape.h + pt + pb - kh) / layer.stride) + 1;
  const ow = Math.floor((shape.w + pl + pr - kw) / layer.stride) + 1;
  const oc = layer.kind === 'conv' ? layer.outChannels : layer.channels;
  const out = new Int8Array(oh * ow * oc);
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      for (let o = 0; o < oc; o++) {
        let acc = 0;
        for (let ky = 0; ky < kh; ky++) {
          for (let kx = 0; kx < kw; kx++) {
            const iy = oy * layer.stride - pt + ky;
            const ix = ox * layer.stride - pl + kx;
            // Outside the input: the input's zero (the bias holds −inputZero · Σw, so the padding adds nothing).
            const inside = iy >= 0 && ix >= 0 && iy < shape.h && ix < shape.w;
            const at = (c: number) => (inside ? x[(iy * shape.w + ix) * shape.c + c]! : layer.inputZero);
            if (layer.kind === 'depthwise') {
              acc += at(o) * layer.weights[(ky * kw + kx) * oc + o]!;
            } else {
              for (let c = 0; c < shape.c; c++) {
                let v = at(c);
                if (layer.gate) {
                  const g = layer.gate;
                  const product = f(f(f((v - g.inZero) * f(g.inScale)) * gateValues[c]!) / f(g.outScale));
                  v = floatToInt8(product, g.outZero);
                }
                acc += v * layer.weights[((o * kh + ky) * kw + kx) * shape.c + c]!;
              }
            }
          }
        }
        let q = clampInt8(
          requantize(acc + layer.bias[o]!, { multiplier: layer.multipliers[o]!, shift: layer.shifts[o]! }),
        );
        if (layer.table) q = layer.table[q & 0xff]!;
        if (layer.kind === 'conv' && layer.residual) {
          const r = layer.residual;
          const skip = tensors.get(r.tensor)![(oy * ow + ox) * oc + o]!;
          q = floatToInt8(f(f(f(q * f(r.mainScale)) + f(skip * f(r.skipScale))) / f(r.outScale)));
        }
        out[(oy * ow + ox) * oc + o] = q;
      }
    }
  }
  return { out, shape: { h: oh, w: ow, c: oc } };
}
let gateValues = new Float32Array(0);

function programOf(input: Shape, layers: EngineLayer[]): EngineProgram {
  return {
    input: { tensor: 'x', channels: input.c, height: input.h, width: input.w, scale: 0.05 },
    classes: 0,
    layers,
  };
}

function isas(): Int8Isa[] {
  return (['scalar', 'avx2', 'avx-vnni', 'avx512', 'neon'] as Int8Isa[]).filter((isa) => int8IsaSupported(isa));
}

/** Runs the program on every ISA; all must agree bit for bit. Returns the output. */
function runEverywhere(
  tt: { same: (a: unknown, b: unknown, m: string) => void },
  program: EngineProgram,
  input: Int8Array,
  outputCount: number,
): Int8Array {
  const engine = Int8Engine.load({ bytes: engineFileFrom(program), source: 'kernel test' });
  try {
    const outputs = isas().map((isa) => {
      engine.setIsa(isa);
      return engine.runQuantized(input, outputCount);
    });
    for (const threads of [2, 3]) {
      engine.setThreads(threads);
      outputs.push(engine.runQuantized(input, outputCount));
    }
    for (let i = 1; i < outputs.length; i++)
      tt.same(
        Buffer.from(outputs[i]!.buffer),
        Buffer.from(outputs[0]!.buffer),
        `path ${i} equals the scalar path bit for bit`,
      );
    return outputs[0]!;
  } finally {
    engine.close();
  }
}

function runAll() {
  t.test('this CPU runs the scalar path and, on x86-64 with AVX2, the AVX2 path', async (tt) => {
    tt.ok(int8IsaSupported('scalar'));
    tt.ok(isas().length >= 1, `paths here: ${isas().join(', ')}`);
  });

  // Each case twice: with float32 scales, as the lowering writes them (AVX-512 requantizes in float32), and with every
  // multiplier one off the float32 grid (every path takes the 64-bit products).
  for (const c of LAYER_CASES) {
    for (const offGrid of [false, true]) {
      t.test(`${c.name}${offGrid ? ', multipliers off the float32 grid' : ''}`, async (tt) => {
        const prng = new Prng(c.name.length * 7919);
        const made = c.make(prng, c.input);
        const layer = offGrid ? { ...made, multipliers: made.multipliers.map((m) => m + 1) } : made;
        const x = int8s(prng, c.input.h * c.input.w * c.input.c);
        const expected = reference(layer, x, c.input, new Map());
        const got = runEverywhere(tt, programOf(c.input, [layer]), x, expected.out.length);
        let mismatches = 0;
        for (let i = 0; i < got.length; i++) if (got[i] !== expected.out[i]) mismatches++;
        tt.equal(mismatches, 0, `all ${got.length} outputs equal the reference`);
        tt.same(floatRequantOnAvx512(programOf(c.input, [layer])), int8IsaSupported('avx512') ? [!offGrid] : [false]);
      });
    }
  }

  for (const kind of ['depthwise', 'conv'] as const)
    t.test(
      `${kind}: accumulators at ±(2^24 − 1) requantize in float32, at ±2^24 with the 64-bit products, halves round up; all exact`,
      async (tt) => {
        const input: Shape = { h: 6, w: 5, c: 20 };
        // Half the pixels -128 (the extreme accumulators), half random.
        const prng = new Prng(77);
        const x = Int8Array.from({ length: 6 * 5 * 20 }, (_, i) => (i < 300 ? -128 : int8s(prng, 1)[0]!));
        const cases = [
          { name: 'bound 2^24 − 1', layer: edgeLayer(kind, 0), inFloat: true },
          { name: 'bound 2^24', layer: edgeLayer(kind, 1), inFloat: false },
          { name: 'scale 1/4 (halves)', layer: nearHalfLayer(kind, 'quarter'), inFloat: true },
          { name: 'scale 1/2 − 2^-25 (just below halves)', layer: nearHalfLayer(kind, 'below-half'), inFloat: true },
        ];
        for (const c of cases) {
          const expected = reference(c.layer, x, input, new Map());
          const got = runEverywhere(tt, programOf(input, [c.layer]), x, expected.out.length);
          tt.same(Array.from(got), Array.from(expected.out), `${c.name}: equals the reference`);
          tt.same(floatRequantOnAvx512(programOf(input, [c.layer])), [int8IsaSupported('avx512') && c.inFloat]);
          const values = [...new Set(expected.out)];
          const saturated = expected.out.filter((v) => v === -128 || v === 127).length;
          tt.ok(
            values.length >= 2 && saturated <= expected.out.length / 10,
            `${c.name}: ${saturated} outputs saturated`,
          );
        }
      },
    );

  for (const gate of ['table', 'sigmoid'] as const)
    t.test(
      `expand → depthwise with the SE pool → SE (gate: ${gate}) → gated projection with the residual add, 12x10, 24 → 72 → 24`,
      async (tt) => seChain(tt, gate, 72, 10),
    );
  // 32 channels at stride 1: the AVX-512 depthwise runs pixel pairs; an odd width leaves one pixel alone.
  t.test('the same chain 12x9, 24 → 32 → 24 (gate: table)', async (tt) => seChain(tt, 'table', 32, 9));
  t.test(
    'the same chain with zero points (depthwise input -115, pooled and gated tensor -110, FC1 SiLU -100, gated product -90, gate -128)',
    async (tt) => seChain(tt, 'table', 72, 10, { dw: -115, se: -110, fc1: -100, gated: -90, gate: -128 }),
  );
  // Gated values (x · 0.5 · gate / 0.25) exact halves for odd x: the division's ties, which the AVX-512 path's product
  // h = 0.5 · gate / 0.25 also lands on, and near-halves from the 0.3 and 0.7 gates.
  t.test(
    'the same chain with gates of binary fractions: every odd gated value an exact half (ties to even)',
    async (tt) =>
      seChain(tt, 'table', 72, 10, undefined, { gates: [0.75, 0.25, 1, 0.3, 0.7, 0.5], inScale: 0.5, outScale: 0.25 }),
  );
  t.test(
    'the same chain with zero points, the gate computed from the float FC2 output (gate zero point -128)',
    async (tt) => seChain(tt, 'sigmoid', 40, 7, { dw: 20, se: -128, fc1: 5, gated: 127, gate: -128 }),
  );
}

/** Which layers the AVX-512 path requantizes in float32 (all false where this CPU has no AVX-512). */
function floatRequantOnAvx512(program: EngineProgram): boolean[] {
  const engine = Int8Engine.load({ bytes: engineFileFrom(program), source: 'kernel test' });
  try {
    if (int8IsaSupported('avx512')) engine.setIsa('avx512');
    return engine.layerStats().map((s) => s.floatRequant);
  } finally {
    engine.close();
  }
}

/** expand → depthwise with the SE pool → SE → gated projection with the residual add, against the reference. */
function seChain(
  tt: Test,
  gate: 'table' | 'sigmoid',
  mid: number,
  width: number,
  zeros = { dw: 0, se: 0, fc1: 0, gated: 0, gate: 0 },
  ties?: { gates: number[]; inScale: number; outScale: number },
) {
  const prng = new Prng(42);
  const input: Shape = { h: 12, w: width, c: 24 };
  const expand = conv(prng, 'x', 'e', input, mid, 1, 1, [0, 0, 0, 0]);
  const dw = depthwise(prng, 'e', 'd', mid, 3, 1, [1, 1, 1, 1], { pool: true, inputZero: zeros.dw });
  const reduced = 6;
  const gateTable =
    gate === 'table'
      ? {
          inScale: 0.03,
          values: Float32Array.from({ length: 256 }, (_, i) =>
            ties ? ties.gates[i % ties.gates.length]! : f(((i * 37) % 128) / 127),
          ),
        }
      : null;
  const se: SeLayer = {
    kind: 'se',
    name: 'se',
    block: 1,
    channels: mid,
    reduced,
    inScale: 0.05,
    inZero: zeros.se,
    poolScale: 0.02,
    fc1OutScale: 0.05,
    fc1ActScale: 0.04,
    fc1ActZero: zeros.fc1,
    gateScale: 1 / 127,
    gateZero: zeros.gate,
    fc1Weights: int8s(prng, reduced * mid, -127, 127),
    fc1Scale: new Float32Array(reduced).fill(0.0004),
    fc1Bias: Float32Array.from({ length: reduced }, (_, i) => (i - 3) * 0.1),
    fc1Table: int8s(prng, 256),
    fc2Weights: int8s(prng, reduced * mid, -127, 127),
    fc2Scale: new Float32Array(mid).fill(0.002),
    fc2Bias: Float32Array.from({ length: mid }, (_, i) => (i % 9) * 0.2 - 0.8),
    gateTable,
  };
  const project = conv(prng, 'd', 'p', { h: 12, w: width, c: mid }, 24, 1, 1, [0, 0, 0, 0], {
    table: null,
    inputZero: zeros.gated,
    gate: { inScale: ties?.inScale ?? 0.05, inZero: zeros.se, outScale: ties?.outScale ?? 0.045, outZero: zeros.gated },
    residual: { tensor: 'x', mainScale: 0.06, skipScale: 0.05, outScale: 0.07 },
  });
  const x = int8s(prng, input.h * input.w * input.c);
  const got = runEverywhere(tt, programOf(input, [expand, dw, se, project]), x, 12 * width * 24);
  // Reference: the same chain, with the SE vector math done here in double precision.
  const e = reference(expand, x, input, new Map());
  const d = reference({ ...dw, pool: false }, e.out, e.shape, new Map());
  const pooled = Array.from({ length: mid }, (_, c) => {
    let sum = 0;
    for (let p = 0; p < 12 * width; p++) sum += d.out[p * mid + c]! - zeros.se;
    return floatToInt8(f(f(sum * (0.05 / (12 * width))) / f(0.02)));
  });
  const fc1 = Array.from({ length: reduced }, (_, r) => {
    let acc = 0;
    for (let c = 0; c < mid; c++) acc += pooled[c]! * se.fc1Weights[r * mid + c]!;
    return se.fc1Table[floatToInt8(f(f(f(acc * f(0.0004)) + f(se.fc1Bias[r]!)) / f(0.05))) & 0xff]!;
  });
  gateValues = Float32Array.from({ length: mid }, (_, c) => {
    let acc = 0;
    for (let r = 0; r < reduced; r++) acc += (fc1[r]! - zeros.fc1) * se.fc2Weights[c * reduced + r]!;
    if (gateTable)
      return gateTable.values[floatToInt8(f(f(f(acc * f(0.002)) + se.fc2Bias[c]!) / f(gateTable.inScale))) & 0xff]!;
    const g = acc * f(0.002) + se.fc2Bias[c]!;
    const q = floatToInt8(f(f(1 / (1 + Math.exp(-g))) / f(1 / 127)), zeros.gate);
    return f((q - zeros.gate) * f(1 / 127));
  });
  const expected = reference(project, d.out, d.shape, new Map([['x', x]]));
  let mismatches = 0;
  for (let i = 0; i < got.length; i++) if (got[i] !== expected.out[i]) mismatches++;
  tt.equal(mismatches, 0, `all ${got.length} outputs equal the reference`);
}
