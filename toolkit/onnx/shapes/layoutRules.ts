/** Shape rules for ops that rearrange a tensor's elements: reshape, (un)squeeze, concat, transpose, gather, reduce. */
import type { Dim } from '../ir.js';
import { InferenceGap, normAxis, type Rule } from './context.js';
import { inferredDim } from './dimArithmetic.js';

export const reshape: Rule = (ctx) => {
  const target = ctx.ints(1);
  const elemType = ctx.type(0);
  if (target === undefined) return [{ elemType }];
  const x = ctx.input(0)?.shape;
  const allowZero = ctx.int('allowzero', 0) === 1;
  const out: Dim[] = target.map((t, i) => {
    if (t === 0 && !allowZero) return x?.[i] ?? null;
    return t === -1 ? null : t;
  });
  const inferAt = target.indexOf(-1);
  if (inferAt >= 0)
    out[inferAt] =
      x === undefined
        ? null
        : inferredDim(
            x,
            out.filter((_, i) => i !== inferAt),
          );
  return [{ elemType, shape: out }];
};

export const squeeze: Rule = (ctx) => {
  const x = ctx.shape(0);
  const axes = ctx.has(1) ? ctx.ints(1) : ctx.intList('axes');
  if (axes === undefined && ctx.has(1)) throw new InferenceGap();
  if (axes === undefined) {
    if (x.some((d) => typeof d !== 'number')) return [{ elemType: ctx.type(0) }];
    return [{ elemType: ctx.type(0), shape: x.filter((d) => d !== 1) }];
  }
  const drop = new Set(axes.map((a) => normAxis(a, x.length)));
  return [{ elemType: ctx.type(0), shape: x.filter((_, i) => !drop.has(i)) }];
};

export const unsqueeze: Rule = (ctx) => {
  const x = ctx.shape(0);
  const axes = ctx.has(1) ? ctx.ints(1) : ctx.intList('axes');
  if (axes === undefined) throw new InferenceGap();
  const rank = x.length + axes.length;
  const add = new Set(axes.map((a) => normAxis(a, rank)));
  const out: Dim[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) out.push(add.has(i) ? 1 : x[j++]!);
  return [{ elemType: ctx.type(0), shape: out }];
};

export const concat: Rule = (ctx) => {
  const shapes = ctx.node.inputs.map((_, i) => ctx.shape(i));
  const rank = shapes[0]!.length;
  const axis = normAxis(ctx.int('axis', 0), rank);
  const out = shapes[0]!.map((_, i) => {
    if (i === axis) {
      const parts = shapes.map((s) => s[i]!);
      return parts.every((d) => typeof d === 'number') ? (parts as number[]).reduce((a, b) => a + b, 0) : null;
    }
    // Prefer a numeric dim, then a symbol, from any input: they must all agree.
    const dims = shapes.map((s) => s[i]!);
    return dims.find((d) => typeof d === 'number') ?? dims.find((d) => d !== null) ?? null;
  });
  return [{ elemType: ctx.type(0), shape: out }];
};

export const transpose: Rule = (ctx) => {
  const x = ctx.shape(0);
  const perm = ctx.intList('perm') ?? x.map((_, i) => x.length - 1 - i);
  if (perm.length !== x.length) throw new InferenceGap();
  return [{ elemType: ctx.type(0), shape: perm.map((p) => x[normAxis(p, x.length)]!) }];
};

export const gather: Rule = (ctx) => {
  const data = ctx.shape(0);
  const indices = ctx.shape(1);
  const axis = normAxis(ctx.int('axis', 0), data.length);
  return [{ elemType: ctx.type(0), shape: [...data.slice(0, axis), ...indices, ...data.slice(axis + 1)] }];
};

export const reduce: Rule = (ctx) => {
  const x = ctx.shape(0);
  const keep = ctx.int('keepdims', 1) === 1;
  const axes = ctx.has(1) ? ctx.ints(1) : ctx.intList('axes');
  if (axes === undefined && ctx.has(1)) throw new InferenceGap();
  const all = axes === undefined || axes.length === 0;
  if (all && ctx.int('noop_with_empty_axes', 0) === 1) return [ctx.input(0)];
  const set = new Set(all ? x.map((_, i) => i) : axes!.map((a) => normAxis(a, x.length)));
  const shape = keep ? x.map((d, i) => (set.has(i) ? 1 : d)) : x.filter((_, i) => !set.has(i));
  return [{ elemType: ctx.type(0), shape }];
};
