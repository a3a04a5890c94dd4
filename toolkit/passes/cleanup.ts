/**
 * Drop inference no-ops (Identity, Dropout) by rewiring their consumers to their input; and, for recognising the
 * structure of a quantized graph, its float view without Q/DQ pairs.
 */
import { consumerMap, producerMap } from '../onnx/graph.js';
import type { Model, Node } from '../onnx/ir.js';
import { withGraph, type PassResult } from './pass.js';

const NO_OPS = new Set(['Identity', 'Dropout']);

export function withoutNoOps(model: Model): PassResult {
  const { nodes, removed } = bypassing(model, (node) =>
    NO_OPS.has(node.opType) && node.domain === '' ? node.inputs[0] : undefined,
  );
  return {
    model: withGraph(model, { nodes }),
    report: { pass: 'cleanup', summary: `Identity/Dropout removed: ${removed}`, counts: { removed } },
  };
}

/**
 * The float graph a Q/DQ graph simulates: every DequantizeLinear's readers read what its QuantizeLinear quantized
 * (or, for weights stored as int8, the int8 initializer), and the Q/DQ nodes go. Node names stay, so what is
 * recognised here names the nodes of the quantized graph. Not for running: int8 weights stay int8.
 */
export function withoutQdq(model: Model): PassResult {
  const producers = producerMap(model.graph);
  const consumers = consumerMap(model.graph);
  const isOp = (node: Node | undefined, opType: string) => node?.opType === opType && node.domain === '';
  const { nodes, removed } = bypassing(model, (node) => {
    if (isOp(node, 'DequantizeLinear')) {
      const quantize = producers.get(node.inputs[0]!);
      return isOp(quantize, 'QuantizeLinear') ? quantize!.inputs[0] : node.inputs[0];
    }
    const readers = consumers.get(node.outputs[0]!) ?? [];
    return isOp(node, 'QuantizeLinear') && readers.length > 0 && readers.every((r) => isOp(r, 'DequantizeLinear'))
      ? node.inputs[0]
      : undefined;
  });
  return {
    model: withGraph(model, { nodes }),
    report: {
      pass: 'without-qdq',
      summary: `QuantizeLinear/DequantizeLinear removed: ${removed}`,
      counts: { removed },
    },
  };
}

/**
 * The graph without the nodes `replacementOf` names a replacement input for, their readers reading that input
 * instead. A node whose output is a graph output keeps the output name alive, so it stays.
 */
function bypassing(
  model: Model,
  replacementOf: (node: Node) => string | undefined,
): { nodes: Node[]; removed: number } {
  const graphOutputs = new Set(model.graph.outputs.map((o) => o.name));
  const rename = new Map<string, string>();
  const kept: Node[] = [];
  for (const node of model.graph.nodes) {
    const replacement = graphOutputs.has(node.outputs[0]!) ? undefined : replacementOf(node);
    if (replacement !== undefined) {
      rename.set(node.outputs[0]!, rename.get(replacement) ?? replacement);
      continue;
    }
    kept.push(node);
  }
  const nodes = kept.map((node) =>
    node.inputs.some((i) => rename.has(i)) ? { ...node, inputs: node.inputs.map((i) => rename.get(i) ?? i) } : node,
  );
  return { nodes, removed: model.graph.nodes.length - kept.length };
}

/** Q/DQ placement refers to nodes by name: give unnamed or duplicate-named nodes unique names (`Conv_12`). */
export function withUniqueNodeNames(model: Model): PassResult {
  const taken = new Set<string>();
  let renamed = 0;
  const nodes = model.graph.nodes.map((node, index) => {
    if (node.name && !taken.has(node.name)) {
      taken.add(node.name);
      return node;
    }
    let name = `${node.opType}_${index}`;
    for (let k = 1; taken.has(name) || model.graph.nodes.some((n) => n.name === name); k++)
      name = `${node.opType}_${index}_${k}`;
    taken.add(name);
    renamed += 1;
    return { ...node, name };
  });
  return {
    model: withGraph(model, { nodes }),
    report: { pass: 'unique-names', summary: `nodes renamed: ${renamed}`, counts: { renamed } },
  };
}
