/**
 * Shape inference for the operators EfficientNet-style graphs use. Pure: returns a new Model whose
 * graph.valueInfo describes every intermediate value we could infer. Symbolic dims (`batch`) flow through
 * wherever the arithmetic allows; a dim we cannot work out becomes null, and an operator we do not know leaves
 * its outputs without a shape rather than failing.
 */
import {
  DataType,
  type Attribute,
  type DataTypeCode,
  type Dim,
  type Graph,
  type Model,
  type Node,
  type Tensor,
  type ValueInfo,
} from './ir.js';
import { topologicalOrder } from './graph.js';

/** What inference knows about one value. */
interface TypeShape {
  elemType: DataTypeCode;
  shape?: Dim[];
}

export function inferShapes(model: Model): Model {
  const graph = model.graph;
  const known = inferGraph(graph);
  const outputNames = new Set(graph.outputs.map((v) => v.name));
  const inputNames = new Set([...graph.inputs.map((v) => v.name), ...graph.initializers.map((t) => t.name)]);
  const docs = new Map(graph.valueInfo.map((v) => [v.name, v.docString]));
  const valueInfo: ValueInfo[] = [];
  const seen = new Set<string>();
  for (const node of topologicalOrder(graph)) {
    for (const name of node.outputs) {
      if (name === '' || outputNames.has(name) || inputNames.has(name) || seen.has(name)) continue;
      const info = known.get(name);
      if (info === undefined) continue;
      seen.add(name);
      valueInfo.push(toValueInfo(name, info, docs.get(name)));
    }
  }
  const outputs = graph.outputs.map((declared) => mergeDeclared(declared, known.get(declared.name)));
  return { ...model, graph: { ...graph, valueInfo, outputs } };
}

/** Type and shape of every value of the main graph: inputs, initializers, node outputs and graph outputs. */
export function valueInfoMap(model: Model): Map<string, ValueInfo> {
  const inferred = inferShapes(model).graph;
  const out = new Map<string, ValueInfo>();
  for (const t of inferred.initializers) out.set(t.name, { name: t.name, elemType: t.dataType, shape: [...t.dims] });
  for (const v of [...inferred.inputs, ...inferred.valueInfo, ...inferred.outputs]) out.set(v.name, v);
  return out;
}

/** One value's type and shape; builds the whole map, so use valueInfoMap for many lookups. */
export function shapeOf(model: Model, name: string): ValueInfo | undefined {
  return valueInfoMap(model).get(name);
}

function toValueInfo(name: string, info: TypeShape, docString: string | undefined): ValueInfo {
  const vi: ValueInfo = { name, elemType: info.elemType };
  if (info.shape !== undefined) vi.shape = info.shape;
  if (docString !== undefined) vi.docString = docString;
  return vi;
}

/** A declared output keeps what it states; inference fills in the type, the shape or single unknown dims. */
function mergeDeclared(declared: ValueInfo, inferred: TypeShape | undefined): ValueInfo {
  if (inferred === undefined) return declared;
  const out: ValueInfo = { ...declared };
  if (out.elemType === 0) out.elemType = inferred.elemType;
  if (declared.shape === undefined) {
    if (inferred.shape !== undefined) out.shape = inferred.shape;
  } else if (inferred.shape !== undefined && inferred.shape.length === declared.shape.length) {
    out.shape = declared.shape.map((d, i) => d ?? inferred.shape![i]!);
  }
  return out;
}

function inferGraph(graph: Graph): Map<string, TypeShape> {
  const known = new Map<string, TypeShape>();
  const constants = new Map<string, Tensor>();
  for (const v of graph.valueInfo) known.set(v.name, typeShape(v));
  for (const v of graph.inputs) known.set(v.name, typeShape(v));
  for (const t of graph.initializers) {
    known.set(t.name, { elemType: t.dataType, shape: [...t.dims] });
    constants.set(t.name, t);
  }
  for (const node of topologicalOrder(graph)) {
    const ctx = new NodeContext(node, known, constants);
    const rule = node.domain === '' || node.domain === 'ai.onnx' ? RULES[node.opType] : undefined;
    let results: (TypeShape | undefined)[] = [];
    if (rule !== undefined) {
      try {
        results = rule(ctx);
      } catch (err) {
        // A malformed node (missing attribute, wrong rank) gets no shape rather than stopping inference.
        if (!(err instanceof InferenceGap)) throw err;
        results = [];
      }
    }
    node.outputs.forEach((name, i) => {
      const r = results[i];
      if (name !== '' && r !== undefined) known.set(name, r);
    });
    for (const [name, tensor] of ctx.produced) constants.set(name, tensor);
  }
  return known;
}

function typeShape(v: ValueInfo): TypeShape {
  return v.shape === undefined ? { elemType: v.elemType } : { elemType: v.elemType, shape: [...v.shape] };
}

/** Thrown by rules when a node lacks what they need; caught per node. */
class InferenceGap extends Error {}

class NodeContext {
  /** Constant values this node produces (Constant, Shape of a static shape), for later Reshape/Squeeze. */
  readonly produced: [string, Tensor][] = [];

  constructor(
    readonly node: Node,
    private readonly known: Map<string, TypeShape>,
    private readonly constants: Map<string, Tensor>,
  ) {}

  input(i: number): TypeShape | undefined {
    const name = this.node.inputs[i];
    return name === undefined || name === '' ? undefined : this.known.get(name);
  }

  has(i: number): boolean {
    const name = this.node.inputs[i];
    return name !== undefined && name !== '';
  }

  /** The input's shape, or a gap when unknown. */
  shape(i: number): Dim[] {
    const s = this.input(i)?.shape;
    if (s === undefined) throw new InferenceGap();
    return s;
  }

  type(i: number): DataTypeCode {
    return this.input(i)?.elemType ?? 0;
  }

  /** Integer values of a constant input (initializer or Constant output), or undefined if not constant. */
  ints(i: number): number[] | undefined {
    const name = this.node.inputs[i];
    if (name === undefined || name === '') return undefined;
    const t = this.constants.get(name);
    if (t === undefined || Array.isArray(t.data)) return undefined;
    return Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
  }

  attr(name: string): Attribute | undefined {
    return this.node.attributes[name];
  }

  int(name: string, fallback: number): number {
    const a = this.attr(name);
    return a?.type === 'int' ? Number(a.value) : fallback;
  }

  intList(name: string): number[] | undefined {
    const a = this.attr(name);
    return a?.type === 'ints' ? a.value.map(Number) : undefined;
  }

  string(name: string, fallback: string): string {
    const a = this.attr(name);
    return a?.type === 'string' ? a.value : fallback;
  }
}

type Rule = (ctx: NodeContext) => (TypeShape | undefined)[];

const sameAsInput: Rule = (ctx) => [ctx.input(0)];

/** For an axis given relative to `rank`; throws a gap when out of range. */
function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new InferenceGap();
  return a;
}

function broadcastDim(a: Dim, b: Dim): Dim {
  if (a === b) return a;
  if (a === 1) return b;
  if (b === 1) return a;
  if (typeof a === 'number' && typeof b === 'number') throw new InferenceGap();
  // A symbol broadcast against n > 1 must equal n (or be 1, which also yields n).
  if (typeof a === 'number') return a;
  if (typeof b === 'number') return b;
  return null;
}

function broadcast(shapes: Dim[][]): Dim[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const j = s.length - rank + i;
      if (j >= 0) d = broadcastDim(d, s[j]!);
    }
    out.push(d);
  }
  return out;
}

const elementwise: Rule = (ctx) => {
  const elemType = ctx.type(0) || ctx.type(1);
  const shapes = ctx.node.inputs.map((_, i) => ctx.input(i)?.shape);
  if (shapes.some((s) => s === undefined)) return [{ elemType }];
  return [{ elemType, shape: broadcast(shapes as Dim[][]) }];
};

/** Product of dims; a lone symbol times ones keeps the symbol, anything else symbolic is unknown. */
function product(dims: Dim[]): Dim {
  let n = 1;
  let symbol: Dim | undefined;
  for (const d of dims) {
    if (typeof d === 'number') n *= d;
    else if (symbol === undefined) symbol = d;
    else return null;
  }
  if (symbol === undefined) return n;
  if (n === 0) return 0;
  return n === 1 ? symbol : null;
}

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

const conv: Rule = (ctx) => {
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

const pool: Rule = (ctx) => {
  const x = ctx.shape(0);
  const kernel = ctx.intList('kernel_shape');
  if (kernel === undefined) throw new InferenceGap();
  const shape = [x[0]!, x[1]!, ...windowOutput(x.slice(2), windowParams(ctx, kernel))];
  return [
    { elemType: ctx.type(0), shape },
    { elemType: DataType.INT64, shape },
  ];
};

const globalPool: Rule = (ctx) => {
  const x = ctx.shape(0);
  return [{ elemType: ctx.type(0), shape: [x[0]!, x[1]!, ...x.slice(2).map(() => 1)] }];
};

const batchNorm: Rule = (ctx) => {
  const c = ctx.input(1)?.shape;
  const stat = c === undefined ? undefined : { elemType: ctx.type(1), shape: c };
  return [ctx.input(0), stat, stat];
};

const flatten: Rule = (ctx) => {
  const x = ctx.shape(0);
  const axis = ctx.int('axis', 1);
  const a = axis < 0 ? axis + x.length : axis;
  if (a < 0 || a > x.length) throw new InferenceGap();
  return [{ elemType: ctx.type(0), shape: [product(x.slice(0, a)), product(x.slice(a))] }];
};

const gemm: Rule = (ctx) => {
  const a = ctx.shape(0);
  const b = ctx.shape(1);
  if (a.length !== 2 || b.length !== 2) throw new InferenceGap();
  const m = ctx.int('transA', 0) ? a[1]! : a[0]!;
  const n = ctx.int('transB', 0) ? b[0]! : b[1]!;
  return [{ elemType: ctx.type(0), shape: [m, n] }];
};

const matmul: Rule = (ctx) => {
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

/** A product split into its numeric factor and the symbols it multiplies, for Reshape's -1. */
function factor(dims: Dim[]): { n: number; symbols: string[] } | undefined {
  let n = 1;
  const symbols: string[] = [];
  for (const d of dims) {
    if (d === null) return undefined;
    if (typeof d === 'number') n *= d;
    else symbols.push(d);
  }
  return { n, symbols };
}

const reshape: Rule = (ctx) => {
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

/** The dim that makes `others` hold as many elements as `input`, or null when that cannot be told. */
function inferredDim(input: Dim[], others: Dim[]): Dim {
  const a = factor(input);
  const b = factor(others);
  if (a === undefined || b === undefined || b.n === 0) return null;
  const rest = [...a.symbols];
  for (const s of b.symbols) {
    const i = rest.indexOf(s);
    if (i < 0) return null;
    rest.splice(i, 1);
  }
  if (a.n % b.n !== 0) return null;
  const n = a.n / b.n;
  if (rest.length === 0) return n;
  return rest.length === 1 && n === 1 ? rest[0]! : null;
}

const squeeze: Rule = (ctx) => {
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

const unsqueeze: Rule = (ctx) => {
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

const concat: Rule = (ctx) => {
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

const transpose: Rule = (ctx) => {
  const x = ctx.shape(0);
  const perm = ctx.intList('perm') ?? x.map((_, i) => x.length - 1 - i);
  if (perm.length !== x.length) throw new InferenceGap();
  return [{ elemType: ctx.type(0), shape: perm.map((p) => x[normAxis(p, x.length)]!) }];
};

const constant: Rule = (ctx) => {
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

const shapeOp: Rule = (ctx) => {
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

const cast: Rule = (ctx) => [{ elemType: ctx.int('to', 0), ...shapeField(ctx.input(0)) }];

function shapeField(info: TypeShape | undefined): { shape?: Dim[] } {
  return info?.shape === undefined ? {} : { shape: info.shape };
}

const quantize: Rule = (ctx) => {
  const zeroPointType = ctx.has(2) ? ctx.type(2) : 0;
  const elemType = zeroPointType || ctx.int('output_dtype', 0) || DataType.UINT8;
  return [{ elemType, ...shapeField(ctx.input(0)) }];
};

const dequantize: Rule = (ctx) => [{ elemType: ctx.type(1) || DataType.FLOAT, ...shapeField(ctx.input(0)) }];

const dropout: Rule = (ctx) => [ctx.input(0), { elemType: DataType.BOOL, ...shapeField(ctx.input(0)) }];

const gather: Rule = (ctx) => {
  const data = ctx.shape(0);
  const indices = ctx.shape(1);
  const axis = normAxis(ctx.int('axis', 0), data.length);
  return [{ elemType: ctx.type(0), shape: [...data.slice(0, axis), ...indices, ...data.slice(axis + 1)] }];
};

const reduce: Rule = (ctx) => {
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

const RULES: Record<string, Rule> = {
  Conv: conv,
  BatchNormalization: batchNorm,
  Relu: sameAsInput,
  Sigmoid: sameAsInput,
  Tanh: sameAsInput,
  HardSigmoid: sameAsInput,
  HardSwish: sameAsInput,
  Clip: sameAsInput,
  LeakyRelu: sameAsInput,
  Elu: sameAsInput,
  Selu: sameAsInput,
  Softplus: sameAsInput,
  Neg: sameAsInput,
  Abs: sameAsInput,
  Exp: sameAsInput,
  Log: sameAsInput,
  Sqrt: sameAsInput,
  Reciprocal: sameAsInput,
  Erf: sameAsInput,
  Identity: sameAsInput,
  Softmax: sameAsInput,
  LogSoftmax: sameAsInput,
  Mul: elementwise,
  Add: elementwise,
  Sub: elementwise,
  Div: elementwise,
  Pow: elementwise,
  Max: elementwise,
  Min: elementwise,
  Sum: elementwise,
  GlobalAveragePool: globalPool,
  GlobalMaxPool: globalPool,
  AveragePool: pool,
  MaxPool: pool,
  Flatten: flatten,
  Gemm: gemm,
  MatMul: matmul,
  Dropout: dropout,
  Reshape: reshape,
  Squeeze: squeeze,
  Unsqueeze: unsqueeze,
  Concat: concat,
  Transpose: transpose,
  Constant: constant,
  Shape: shapeOp,
  Cast: cast,
  QuantizeLinear: quantize,
  DequantizeLinear: dequantize,
  Gather: gather,
  ReduceMean: reduce,
  ReduceMax: reduce,
  ReduceSum: reduce,
};
