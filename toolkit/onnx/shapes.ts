/**
 * Shape inference for the operators EfficientNet-style graphs use. Pure: returns a new Model whose
 * graph.valueInfo describes every intermediate value we could infer. Symbolic dims (`batch`) flow through
 * wherever the arithmetic allows; a dim we cannot work out becomes null, and an operator we do not know leaves
 * its outputs without a shape rather than failing.
 */
import type { Graph, Model, Tensor, ValueInfo } from './ir.js';
import { topologicalOrder } from './graph.js';
import { InferenceGap, NodeContext, type TypeShape } from './shapes/context.js';
import { RULES } from './shapes/rules.js';

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
