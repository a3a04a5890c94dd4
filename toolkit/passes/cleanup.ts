/** Drop inference no-ops (Identity, Dropout) by rewiring their consumers to their input. */
import { withGraph, type PassResult } from './pass.js';
import type { Model } from '../onnx/ir.js';

const NO_OPS = new Set(['Identity', 'Dropout']);

export function withoutNoOps(model: Model): PassResult {
  const graphOutputs = new Set(model.graph.outputs.map((o) => o.name));
  const rename = new Map<string, string>();
  const kept = [];
  let removed = 0;
  for (const node of model.graph.nodes) {
    // A no-op whose output is a graph output keeps the output name alive, so it stays.
    if (NO_OPS.has(node.opType) && node.domain === '' && !graphOutputs.has(node.outputs[0]!)) {
      rename.set(node.outputs[0]!, rename.get(node.inputs[0]!) ?? node.inputs[0]!);
      removed += 1;
      continue;
    }
    kept.push(node);
  }
  const nodes = kept.map((node) => (node.inputs.some((i) => rename.has(i))
    ? { ...node, inputs: node.inputs.map((i) => rename.get(i) ?? i) }
    : node));
  return {
    model: withGraph(model, { nodes }),
    report: { pass: 'cleanup', summary: `Identity/Dropout removed: ${removed}`, counts: { removed } },
  };
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
    for (let k = 1; taken.has(name) || model.graph.nodes.some((n) => n.name === name); k++) name = `${node.opType}_${index}_${k}`;
    taken.add(name);
    renamed += 1;
    return { ...node, name };
  });
  return {
    model: withGraph(model, { nodes }),
    report: { pass: 'unique-names', summary: `nodes renamed: ${renamed}`, counts: { renamed } },
  };
}
