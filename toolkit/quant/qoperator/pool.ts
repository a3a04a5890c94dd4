/**
 * GlobalAveragePool → com.microsoft QLinearGlobalAveragePool (NCHW), and Flatten, which moves uint8 values as
 * they are. The head's pool has no quantized output in the Q/DQ graph, only the Flatten after it: the pool writes
 * the Flatten's quantization, which Flatten then passes on unchanged.
 */
import type { Node } from '../../onnx/ir.js';
import { type QOperatorDraft, uint8ZeroPointOf } from './draft.js';
import { outputOf, type Chosen } from './outputs.js';

export function convertGlobalAveragePool(options: { draft: QOperatorDraft; node: Node }): void {
  const { draft, node } = options;
  const x = draft.input(node.inputs[0]!, node);
  const y = outputOf({ draft, node, float: node.outputs[0]!, chosen: () => flattenedQuantization({ draft, node }) });
  draft.emit({
    opType: 'QLinearGlobalAveragePool',
    source: node,
    microsoft: true,
    inputs: [x.tensor, ...draft.parameters(x), ...draft.parameters(y)],
    outputs: [y.tensor],
    attributes: { channels_last: { type: 'int', value: 0 } },
  });
}

export function convertFlatten(options: { draft: QOperatorDraft; node: Node }): void {
  const { draft, node } = options;
  const x = draft.input(node.inputs[0]!, node);
  const y = outputOf({ draft, node, float: node.outputs[0]!, chosen: () => x });
  if (y.scale !== x.scale || y.zeroPoint !== x.zeroPoint)
    draft.fail(node, 'its output is quantized differently from its input (a Flatten cannot requantize)');
  draft.emit({ opType: 'Flatten', source: node, inputs: [x.tensor], outputs: [y.tensor], attributes: node.attributes });
}

/** The quantization of the Flatten that is the pool's only reader, when the Q/DQ graph quantizes its output. */
function flattenedQuantization(options: { draft: QOperatorDraft; node: Node }): Chosen | null {
  const { draft, node } = options;
  const readers = draft.view.consumersOf(node.outputs[0]!);
  const flatten = readers.length === 1 && readers[0]!.opType === 'Flatten' ? readers[0]! : null;
  const q = flatten ? draft.view.quantizerOf(flatten.outputs[0]!) : null;
  return q ? { scale: q.scale, zeroPoint: uint8ZeroPointOf(q) } : null;
}
