/**
 * The classifier head (global average pool, QuantizeLinear, the int8 classifier) alone, from float input, on every
 * path this CPU has: the logits against a reference computed here, so that each path's classifier kernel (the AVX-512
 * one by vpdpbusd on unsigned-biased inputs) is held to the same integers.
 */
import t, { type Test } from 'tap';
import { Prng } from '../../../toolkit/model/prng.js';
import { roundHalfToEven } from '../../../toolkit/numbers.js';
import { int8s } from '../../helpers/int8Layers.js';
import { clampInt8 } from '../../../toolkit/runtime/int8/fixedPoint.js';
import { engineFileFrom } from '../../../toolkit/runtime/int8/engineFile.js';
import type { EngineProgram, HeadLayer } from '../../../toolkit/runtime/int8/lower.js';
import {
  Int8Engine,
  int8IsaSupported,
  int8UnavailableReason,
  type Int8Isa,
} from '../../../toolkit/runtime/int8/native.js';

const f = Math.fround;
/** The engine's float → stored int8 (quantize_value): clamp to ±256, round half to even, saturate. */
const floatToInt8 = (v: number) => clampInt8(roundHalfToEven(Math.min(256, Math.max(-256, v))));
const isas = (): Int8Isa[] =>
  (['scalar', 'avx2', 'avx-vnni', 'avx512', 'neon'] as Int8Isa[]).filter((isa) => int8IsaSupported(isa));

const unavailable = int8UnavailableReason();
for (const c of [
  { channels: 100, classes: 9, table: true },
  { channels: 3, classes: 7, table: false },
  { channels: 128, classes: 8, table: true },
])
  t.test(
    `the classifier head, ${c.channels} channels → ${c.classes} classes${c.channels % 64 ? ' (a partial 64-channel block)' : ''}, ${c.table ? 'SiLU table' : 'no table'}: every path's logits equal the reference`,
    { skip: unavailable ? `the int8 engine is not built: ${unavailable}` : false },
    async (tt) => headCase(tt, c.channels, c.classes, c.table),
  );

/** A program of only the head, on the quantized input (6×5), against the reference on every path. */
function headCase(tt: Test, channels: number, classes: number, withTable: boolean): void {
  const prng = new Prng(channels * 31 + classes);
  const [h, w, inputScale] = [6, 5, 0.05];
  const head: HeadLayer = {
    kind: 'head',
    name: 'fc',
    block: 2,
    input: 'x',
    channels,
    classes,
    inScale: inputScale,
    poolScale: 0.03,
    table: withTable ? Float32Array.from({ length: 256 }, (_, i) => f(Math.sin(i) * 2)) : null,
    weights: int8s(prng, classes * channels, -128, 127),
    scale: Float32Array.from({ length: classes }, (_, o) => f(0.001 * (o + 1))),
    bias: Float32Array.from({ length: classes }, (_, o) => f(o * 0.25 - 1)),
  };
  const program: EngineProgram = {
    input: { tensor: 'x', channels, height: h, width: w, scale: inputScale },
    classes,
    layers: [head],
  };
  const image = Float32Array.from({ length: channels * h * w }, () => prng.nextNormal() * 3);
  const engine = Int8Engine.load({ bytes: engineFileFrom(program), source: 'kernel test' });
  let got: Float32Array[];
  try {
    got = isas().map((isa) => {
      engine.setIsa(isa);
      return engine.run(image, [1, channels, h, w]);
    });
  } finally {
    engine.close();
  }
  // Reference: the input's QuantizeLinear, the pool in double (pixel order), QuantizeLinear, the int32 dots.
  const quantized = (c: number, p: number) => floatToInt8(f(image[c * h * w + p]! / f(inputScale)));
  const pooled = Array.from({ length: channels }, (_, c) => {
    let sum = 0;
    for (let p = 0; p < h * w; p++)
      sum += head.table ? head.table[quantized(c, p) & 0xff]! : quantized(c, p) * f(inputScale);
    return floatToInt8(f(f(sum / (h * w)) / f(head.poolScale)));
  });
  const expected = Float32Array.from({ length: classes }, (_, o) => {
    let acc = 0;
    for (let c = 0; c < channels; c++) acc += pooled[c]! * head.weights[o * channels + c]!;
    return f(f(acc * head.scale[o]!) + head.bias[o]!);
  });
  for (const [i, logits] of got.entries())
    tt.same(Array.from(logits), Array.from(expected), `${isas()[i]}: the reference logits`);
  tt.ok(
    new Set(pooled).size >= Math.min(4, channels) && pooled.every((v) => v > -128 && v < 127),
    `pooled values vary, none saturated: ${pooled.slice(0, 8).join(' ')}…`,
  );
}
