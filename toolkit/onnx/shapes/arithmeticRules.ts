/** Shape rules for arithmetic: elementwise and broadcasting ops, normalisation, and matrix products. */
import type { Dim } from '../ir.js';
import { InferenceGap, type Rule } from './context.js';
import { broadcast, product } from './dimArithmetic.js';

export const sameAsInput: Rule = (ctx) => [ctx.input(0)];

export const elementwise: Rule = (ctx) => {
  const elemType = ctx.type(0) || ctx.type(1);
  const shapes = ctx.node.inputs.map((_, i) => ctx.input(i)?.shape);
  if (shapes.some((s) => s === undefined)) return [{ elemType }];
  return [{ elemType, shape: broadcast(shapes as Dim[][]) }];
};

export const batchNorm: Rule = (ctx) => {
  const c = ctx.input(1)?.shape;
  const stat = c === undefined ? undefined : { elemType: ctx.type(1), shape: c };
  return [ctx.input(0), stat, stat];
};

export const flatten: Rule = (ctx) => {
  const x = ctx.shape(0);
  const axis = ctx.int('axis', 1);
  const a = axis < 0 ? axis + x.length : axis;
  if (a < 0 || a > x.length) throw new InferenceGap();
  return [{ elemType: ctx.type(0), shape: [product(x.slice(0, a)), product(x.slice(a))] }];
};

export const gemm: Rule = (ctx) => {
  const a = ctx.shape(0);
  const b = ctx.shape(1);
  if (a.length !== 2 || b.length !== 2) throw new InferenceGap();
  const m = ctx.int('transA', 0) ? a[1]! : a[0]!;
  const n = ctx.int('transB', 0) ? b[0]! : b[1]!;
  return [{ elemType: ctx.type(0), shape: [m, n] }];
};

export const matmul: Rule = (ctx) => {
  const a = ctx.shape(0);
  const b = ctx.shape(1);
  if (a.length === 0 || b.length === 0) throw new InferenceGap();
  const a2 = a.length === 1 ? [1, a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, 1] : b;
  const batch = broadcast([a2.slice(0, -2), b2.slice(0, -2)]);
  const shape = [...batch];
  if (a.length > 1) shape.push(a2[a2.length - 2]!);
  if (b.length > 1) shape.push(b2[b2.length - 1]!);
  return [{ elemType: ctx.type(0), shape }];
};
