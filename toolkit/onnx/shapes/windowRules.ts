/** Shape rules for sliding windows (Conv and the pools), per ONNX's output-size formulas. */
import { DataType, type Dim } from '../ir.js';
import { InferenceGap, type NodeContext, type Rule } from './context.js';

interface WindowParams {
  kernel: number[];
  strides: number[];
  dilations: number[];
  pads: number[];
  autoPad: string;
  ceil: boolean;
}

function windowParams(ctx: NodeContext, kernel: number[]): WindowParams {
  const n = kernel.length;
  return {
    kernel,
    strides: ctx.intList('strides') ?? new Array<number>(n).fill(1),
    dilations: ctx.intList('dilations') ?? new Array<number>(n).fill(1),
    pads: ctx.intList('pads') ?? new Array<number>(2 * n).fill(0),
    autoPad: ctx.string('auto_pad', 'NOTSET'),
    ceil: ctx.int('ceil_mode', 0) === 1,
  };
}

/** Output spatial dims of a sliding window (Conv, pools), per ONNX's formulas. */
function windowOutput(spatial: Dim[], p: WindowParams): Dim[] {
  const n = spatial.length;
  if (p.kernel.length !== n) throw new InferenceGap();
  return spatial.map((d, i) => {
    const k = p.kernel[i]!;
    const s = p.strides[i] ?? 1;
    const dil = p.dilations[i] ?? 1;
    const span = dil * (k - 1) + 1;
    if (p.autoPad === 'SAME_UPPER' || p.autoPad === 'SAME_LOWER') {
      if (typeof d === 'number') return Math.ceil(d / s);
      return s === 1 ? d : null;
    }
    const pad = p.autoPad === 'VALID' ? 0 : (p.pads[i] ?? 0) + (p.pads[i + n] ?? 0);
    if (typeof d === 'number') {
      const q = (d + pad - span) / s;
      return (p.ceil ? Math.ceil(q) : Math.floor(q)) + 1;
    }
    // Symbolic: only a stride-1 window that keeps the size can carry the symbol through.
    return s === 1 && pad === span - 1 ? d : null;
  });
}

export const conv: Rule = (ctx) => {
  const x = ctx.shape(0);
  const w = ctx.input(1)?.shape;
  const kernel =
    ctx.intList('kernel_shape') ??
    w?.slice(2).map((d) => {
      if (typeof d !== 'number') throw new InferenceGap();
      return d;
    });
  if (kernel === undefined || x.length < 3) throw new InferenceGap();
  const spatial = windowOutput(x.slice(2), windowParams(ctx, kernel));
  return [{ elemType: ctx.type(0), shape: [x[0]!, w?.[0] ?? null, ...spatial] }];
};

export const pool: Rule = (ctx) => {
  const x = ctx.shape(0);
  const kernel = ctx.intList('kernel_shape');
  if (kernel === undefined) throw new InferenceGap();
  const shape = [x[0]!, x[1]!, ...windowOutput(x.slice(2), windowParams(ctx, kernel))];
  return [
    { elemType: ctx.type(0), shape },
    { elemType: DataType.INT64, shape },
  ];
};

export const globalPool: Rule = (ctx) => {
  const x = ctx.shape(0);
  return [{ elemType: ctx.type(0), shape: [x[0]!, x[1]!, ...x.slice(2).map(() => 1)] }];
};
