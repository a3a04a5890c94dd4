/**
 * The classifier: GlobalAveragePool (→ Flatten) → Q → Gemm → one head layer that pools the last conv's int8
 * output (through the head conv's SiLU as a float table when nothing quantized it) and applies the int8 FC.
 */
import type { Node } from '../../../onnx/ir.js';
import { intAttribute } from './conv.js';
import type { ProgramDraft } from './draft.js';
import type { QdqView } from './qdqView.js';
import { floatSiluTable } from './tables.js';

export function lowerHead(options: { view: QdqView; draft: ProgramDraft; node: Node }): void {
  const { draft, node } = options;
  // Typed explicitly so that `view.fail` (never) narrows.
  const view: QdqView = options.view;
  const flat = view.symmetric(view.activationBehind(node.inputs[0]!, node), node, 'the pooled input');
  const flatten = view.producers.get(flat.float);
  const pool = flatten?.opType === 'Flatten' ? view.producers.get(flatten.inputs[0]!) : flatten;
  if (pool?.opType !== 'GlobalAveragePool') view.fail(node, 'the classifier must read the global average pool');
  if (intAttribute(node, 'transB', 0) !== 1) view.fail(node, 'expected transB=1');
  const w = view.weightBehind(node.inputs[1]!, node);
  const pooled = draft.floatActivations.get(pool.inputs[0]!);
  const direct = pooled ? null : view.symmetric(view.activationBehind(pool.inputs[0]!, pool), pool, 'the input');
  const source = pooled ?? { tensor: direct!.quantized, scale: direct!.scale };
  const classes = w.dims[0]!;
  draft.classes = classes;
  draft.layers.push({
    kind: 'head',
    name: node.name,
    block: 0,
    input: source.tensor,
    channels: w.dims[1]!,
    classes,
    inScale: source.scale,
    poolScale: flat.scale,
    table: pooled ? floatSiluTable(pooled.scale) : null,
    weights: w.values,
    scale: Float32Array.from(w.scales, (s) => s * flat.scale),
    bias: view.floatBias(node.inputs[2], classes),
  });
  if (!view.model.graph.outputs.some((o) => o.name === node.outputs[0]))
    view.fail(node, 'the classifier output is not the graph output');
}
