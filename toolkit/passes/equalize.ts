/**
 * Cross-layer equalisation (Nagel et al., 2019) wherever it is exact: a channel of a tensor that only linear layers
 * produce and only linear layers read can be divided by s in its producers (weight row and bias) and multiplied
 * back in its readers (weight column), leaving every output unchanged. s = √(r₁/r₂) gives the producers' output
 * channel range r₁ and the readers' input channel range r₂ the same value √(r₁r₂).
 *
 * Tensors joined by a residual Add must share one scale per channel, so the unit is a *group*: tensors linked by
 * Adds and ReLUs, produced by Convs (any groups), read by Convs (dense or depthwise) and Gemms.
 * In EfficientNet every depthwise conv is followed by SiLU and the SE gate, which no channel scale passes through,
 * so the exact groups are its residual streams: the projection convs of a stage and the convs reading the stage's
 * output. A MobileNet-style depthwise → ReLU → pointwise pair is a group of two tensors.
 */
import { DataType, type Model, type Node, type Tensor } from '../onnx/ir.js';
import { consumerMap, initializerMap, producerMap } from '../onnx/graph.js';
import { withGraph, type PassResult } from './pass.js';

/** Ops a per-channel positive scale passes through: Add (both inputs in the group) and ReLU (max(s·x, 0) = s·max(x, 0)). */
const PASS_THROUGH = new Set(['Add', 'Relu']);

interface Group {
  tensors: Set<string>;
  producers: Node[];
  readers: { node: Node; kind: 'dense' | 'depthwise' | 'gemm-transposed' | 'gemm' }[];
  /** The Adds and ReLUs inside the group. */
  adds: Node[];
}

const intAttribute = (node: Node, name: string, fallback: number): number => {
  const a = node.attributes[name];
  return a?.type === 'int' ? Number(a.value) : fallback;
};

/** The group reached from `start`, or undefined when some member is produced or read by anything else. */
function groupFrom(
  start: string,
  _graph: Model['graph'],
  maps: {
    producers: Map<string, Node>;
    consumers: Map<string, Node[]>;
    initializers: Map<string, Tensor>;
    outputs: Set<string>;
  },
): Group | undefined {
  const group: Group = { tensors: new Set(), producers: [], readers: [], adds: [] };
  const pending = [start];
  const floatWeight = (node: Node) => {
    const w = maps.initializers.get(node.inputs[1] ?? '');
    const b = node.inputs[2] ? maps.initializers.get(node.inputs[2]) : undefined;
    return w?.data instanceof Float32Array && (!node.inputs[2] || b?.data instanceof Float32Array);
  };
  while (pending.length) {
    const tensor = pending.pop()!;
    if (group.tensors.has(tensor)) continue;
    if (maps.outputs.has(tensor) || maps.initializers.has(tensor)) return undefined;
    group.tensors.add(tensor);
    const producer = maps.producers.get(tensor);
    if (!producer) return undefined; // a graph input
    if (PASS_THROUGH.has(producer.opType)) {
      if (!group.adds.includes(producer)) group.adds.push(producer);
      pending.push(...producer.inputs);
    } else if (producer.opType === 'Conv' && floatWeight(producer)) {
      if (!group.producers.includes(producer)) group.producers.push(producer);
    } else {
      return undefined;
    }
    for (const reader of maps.consumers.get(tensor) ?? []) {
      if (PASS_THROUGH.has(reader.opType)) {
        if (!group.adds.includes(reader)) group.adds.push(reader);
        pending.push(...reader.inputs, reader.outputs[0]!);
        continue;
      }
      if (reader.inputs[0] !== tensor || reader.inputs.slice(1).includes(tensor) || !floatWeight(reader))
        return undefined;
      if (reader.opType === 'Conv') {
        const groups = intAttribute(reader, 'group', 1);
        const weight = maps.initializers.get(reader.inputs[1]!)!;
        if (groups === 1) group.readers.push({ node: reader, kind: 'dense' });
        else if (weight.dims[1] === 1 && weight.dims[0] === groups)
          group.readers.push({ node: reader, kind: 'depthwise' });
        else return undefined;
      } else if (reader.opType === 'Gemm' && intAttribute(reader, 'transA', 0) === 0) {
        group.readers.push({
          node: reader,
          kind: intAttribute(reader, 'transB', 0) === 1 ? 'gemm-transposed' : 'gemm',
        });
      } else {
        return undefined;
      }
    }
  }
  // Adds of the group must add group members only (a broadcast constant would not scale).
  if (group.adds.some((add) => add.inputs.some((i) => !group.tensors.has(i)))) return undefined;
  return group.producers.length && group.readers.length ? group : undefined;
}

/** |w| max per output channel (rows of [Co, …]). */
function rowRanges(weight: Tensor): Float64Array {
  const data = weight.data as Float32Array;
  const rows = weight.dims[0]!;
  const per = data.length / rows;
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) for (let i = 0; i < per; i++) out[r] = Math.max(out[r]!, Math.abs(data[r * per + i]!));
  return out;
}

/** Input channel c of a reader: [index ranges of its weight] as (offset, count, stride) runs. */
function inputChannelIndices(weight: Tensor, kind: Group['readers'][number]['kind'], c: number): number[] {
  const dims = weight.dims;
  const indices: number[] = [];
  if (kind === 'depthwise') {
    const per = dims.slice(1).reduce((n, d) => n * d, 1);
    for (let i = 0; i < per; i++) indices.push(c * per + i);
  } else if (kind === 'dense') {
    const [co, ci] = [dims[0]!, dims[1]!];
    const spatial = dims.slice(2).reduce((n, d) => n * d, 1);
    for (let o = 0; o < co; o++) for (let k = 0; k < spatial; k++) indices.push((o * ci + c) * spatial + k);
  } else if (kind === 'gemm-transposed') {
    for (let o = 0; o < dims[0]!; o++) indices.push(o * dims[1]! + c);
  } else {
    for (let o = 0; o < dims[1]!; o++) indices.push(c * dims[1]! + o);
  }
  return indices;
}

export function withCrossLayerEqualization(model: Model): PassResult {
  const { graph } = model;
  const maps = {
    producers: producerMap(graph),
    consumers: consumerMap(graph),
    initializers: initializerMap(graph),
    outputs: new Set(graph.outputs.map((o) => o.name)),
  };
  const seen = new Set<string>();
  const groups: Group[] = [];
  for (const node of graph.nodes) {
    if (node.opType !== 'Conv' || seen.has(node.outputs[0]!)) continue;
    const group = groupFrom(node.outputs[0]!, graph, maps);
    if (!group) continue;
    group.tensors.forEach((t) => seen.add(t));
    groups.push(group);
  }
  const replaced = new Map<string, Float32Array>();
  const current = (name: string) =>
    replaced.get(name) ?? Float32Array.from(maps.initializers.get(name)!.data as Float32Array);
  // A weight shared with a node outside the group would change that node: such groups are left alone.
  const readersOf = new Map<string, number>();
  for (const n of graph.nodes) for (const i of n.inputs) readersOf.set(i, (readersOf.get(i) ?? 0) + 1);
  let channels = 0;
  const applied: Group[] = [];
  for (const group of groups) {
    const weights = [...group.producers, ...group.readers.map((r) => r.node)].flatMap((n) =>
      n.inputs.slice(1).filter(Boolean),
    );
    if (weights.some((w) => readersOf.get(w) !== 1)) continue;
    const width = maps.initializers.get(group.producers[0]!.inputs[1]!)!.dims[0]!;
    const r1 = new Float64Array(width);
    for (const p of group.producers)
      rowRanges(maps.initializers.get(p.inputs[1]!)!).forEach((v, c) => {
        r1[c] = Math.max(r1[c]!, v);
      });
    const r2 = new Float64Array(width);
    const indexCache = new Map<string, number[][]>();
    for (const reader of group.readers) {
      const weight = maps.initializers.get(reader.node.inputs[1]!)!;
      const data = weight.data as Float32Array;
      const perChannel = Array.from({ length: width }, (_, c) => inputChannelIndices(weight, reader.kind, c));
      indexCache.set(reader.node.name, perChannel);
      perChannel.forEach((indices, c) => {
        for (const i of indices) r2[c] = Math.max(r2[c]!, Math.abs(data[i]!));
      });
    }
    const scale = Array.from(r1, (v, c) => (v > 0 && r2[c]! > 0 ? Math.sqrt(v / r2[c]!) : 1));
    for (const p of group.producers) {
      const weight = maps.initializers.get(p.inputs[1]!)!;
      const w = current(weight.name);
      const per = w.length / width;
      for (let c = 0; c < width; c++) for (let i = 0; i < per; i++) w[c * per + i] = w[c * per + i]! / scale[c]!;
      replaced.set(weight.name, w);
      if (p.inputs[2]) {
        const b = current(p.inputs[2]);
        for (let c = 0; c < width; c++) b[c] = b[c]! / scale[c]!;
        replaced.set(p.inputs[2], b);
      }
    }
    for (const reader of group.readers) {
      const w = current(reader.node.inputs[1]!);
      indexCache.get(reader.node.name)!.forEach((indices, c) => {
        for (const i of indices) w[i] = w[i]! * scale[c]!;
      });
      replaced.set(reader.node.inputs[1]!, w);
    }
    channels += width;
    applied.push(group);
  }
  const initializers = graph.initializers.map((t) =>
    replaced.has(t.name) ? { ...t, dataType: DataType.FLOAT, data: replaced.get(t.name)! } : t,
  );
  return {
    model: withGraph(model, { initializers }),
    report: {
      pass: 'equalize',
      summary: `cross-layer equalisation: ${applied.length} groups (${applied.reduce((n, g) => n + g.producers.length, 0)} producing and ${applied.reduce((n, g) => n + g.readers.length, 0)} reading layers, ${channels} channels)`,
      counts: { groups: applied.length, channels },
    },
  };
}
