/** Shape rules for ops that make or convert values: constants, Shape, casts and (de)quantization. */
import { DataType, type Dim, type Tensor } from '../ir.js';
import { InferenceGap, type NodeContext, type Rule, type TypeShape } from './context.js';

export const constant: Rule = (ctx) => {
  const t = constantTensor(ctx);
  if (t === undefined) throw new InferenceGap();
  const name = ctx.node.outputs[0];
  if (name !== undefined && name !== '') ctx.produced.push([name, t]);
  return [{ elemType: t.dataType, shape: [...t.dims] }];
};

function constantTensor(ctx: NodeContext): Tensor | undefined {
  const a =
    ctx.attr('value') ??
    ctx.attr('value_float') ??
    ctx.attr('value_floats') ??
    ctx.attr('value_int') ??
    ctx.attr('value_ints') ??
    ctx.attr('value_string') ??
    ctx.attr('value_strings');
  const name = ctx.node.outputs[0] ?? '';
  switch (a?.type) {
    case 'tensor':
      return a.value;
    case 'float':
      return { name, dataType: DataType.FLOAT, dims: [], data: new Float32Array([a.value]) };
    case 'floats':
      return { name, dataType: DataType.FLOAT, dims: [a.value.length], data: new Float32Array(a.value) };
    case 'int':
      return { name, dataType: DataType.INT64, dims: [], data: new BigInt64Array([BigInt(a.value)]) };
    case 'ints':
      return {
        name,
        dataType: DataType.INT64,
        dims: [a.value.length],
        data: BigInt64Array.from(a.value, (v) => BigInt(v)),
      };
    case 'string':
      return { name, dataType: DataType.STRING, dims: [], data: [a.value] };
    case 'strings':
      return { name, dataType: DataType.STRING, dims: [a.value.length], data: [...a.value] };
    default:
      return undefined;
  }
}

export const shapeOp: Rule = (ctx) => {
  const x = ctx.input(0)?.shape;
  if (x === undefined) return [{ elemType: DataType.INT64 }];
  const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + x.length : v, 0), x.length);
  const start = clamp(ctx.int('start', 0));
  const end = clamp(ctx.int('end', x.length));
  const dims = x.slice(start, Math.max(start, end));
  const name = ctx.node.outputs[0];
  if (name !== undefined && name !== '' && dims.every((d) => typeof d === 'number')) {
    ctx.produced.push([
      name,
      {
        name,
        dataType: DataType.INT64,
        dims: [dims.length],
        data: BigInt64Array.from(dims as number[], (v) => BigInt(v)),
      },
    ]);
  }
  return [{ elemType: DataType.INT64, shape: [dims.length] }];
};

export const cast: Rule = (ctx) => [{ elemType: ctx.int('to', 0), ...shapeField(ctx.input(0)) }];

function shapeField(info: TypeShape | undefined): { shape?: Dim[] } {
  return info?.shape === undefined ? {} : { shape: info.shape };
}

export const quantize: Rule = (ctx) => {
  const zeroPointType = ctx.has(2) ? ctx.type(2) : 0;
  const elemType = zeroPointType || ctx.int('output_dtype', 0) || DataType.UINT8;
  return [{ elemType, ...shapeField(ctx.input(0)) }];
};

export const dequantize: Rule = (ctx) => [{ elemType: ctx.type(1) || DataType.FLOAT, ...shapeField(ctx.input(0)) }];

export const dropout: Rule = (ctx) => [ctx.input(0), { elemType: DataType.BOOL, ...shapeField(ctx.input(0)) }];
