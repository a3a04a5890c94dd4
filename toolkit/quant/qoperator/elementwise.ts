/**
 * Sigmoid → com.microsoft QLinearSigmoid; Mul and Add (SiLU's product, the squeeze-excitation gate, the residual)
 * → com.microsoft QLinearMul and QLinearAdd, broadcasting as the float ops do.
 */
import type { Node } from '../../onnx/ir.js';
import type { QOperatorDraft, Quantized } from './draft.js';
import { outputOf, SIGMOID_OUTPUT, siluOutput } from './outputs.js';

export function convertSigmoid(options: { draft: QOperatorDraft; node: Node }): void {
  const { draft, node } = options;
  const x = draft.input(node.inputs[0]!, node);
  const y = outputOf({ draft, node, float: node.outputs[0]!, chosen: () => SIGMOID_OUTPUT });
  draft.emit({
    opType: 'QLinearSigmoid',
    source: node,
    microsoft: true,
    inputs: [x.tensor, ...draft.parameters(x), ...draft.parameters(y)],
    outputs: [y.tensor],
  });
}

/** Mul or Add of two quantized tensors. */
export function convertBinary(options: { draft: QOperatorDraft; node: Node }): void {
  const { draft, node } = options;
  if (node.inputs.length !== 2) draft.fail(node, `expected two inputs, got ${node.inputs.length}`);
  const [a, b] = node.inputs.map((t) => draft.input(t, node)) as [Quantized, Quantized];
  const silu = node.opType === 'Mul' ? siluInput({ draft, node }) : null;
  const y = outputOf({ draft, node, float: node.outputs[0]!, chosen: () => (silu ? siluOutput(silu) : null) });
  draft.emit({
    opType: `QLinear${node.opType}`,
    source: node,
    microsoft: true,
    inputs: [a.tensor, ...draft.parameters(a), b.tensor, ...draft.parameters(b), ...draft.parameters(y)],
    outputs: [y.tensor],
  });
}

/** When this Mul is x · σ(x) (a SiLU), x's quantization; null otherwise. */
function siluInput(options: { draft: QOperatorDraft; node: Node }): Quantized | null {
  const { draft, node } = options;
  for (const [i, tensor] of node.inputs.entries()) {
    const sigmoid = draft.view.producers.get(tensor);
    const other = draft.known(node.inputs[1 - i]!);
    if (sigmoid?.opType === 'Sigmoid' && other && draft.known(sigmoid.inputs[0]!)?.tensor === other.tensor)
      return other;
  }
  return null;
}
