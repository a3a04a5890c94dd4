/**
 * The classifier Gemm → com.microsoft QGemm with float output: uint8 pooled features, int8 per-class weights,
 * int32 bias. The Q/DQ graph does not quantize the logits, so neither does this graph (QGemm without y_scale
 * writes float), and the output keeps its name.
 */
import type { Node } from '../../onnx/ir.js';
import { int32BiasOf, int8WeightsOf } from './conv.js';
import type { QOperatorDraft } from './draft.js';

export function convertGemm(options: { draft: QOperatorDraft; node: Node }): void {
  const { draft, node } = options;
  const attribute = (name: string, fallback: number) => {
    const a = node.attributes[name];
    return a?.type === 'int' || a?.type === 'float' ? Number(a.value) : fallback;
  };
  if (attribute('transA', 0) !== 0 || attribute('transB', 0) !== 1)
    draft.fail(node, 'expected transA=0 and transB=1 (weights stored [classes, features])');
  if (attribute('alpha', 1) !== 1 || attribute('beta', 1) !== 1) draft.fail(node, 'expected alpha=1 and beta=1');
  if (draft.view.quantizerOf(node.outputs[0]!)) draft.fail(node, 'the logits are quantized; expected float logits');
  const a = draft.input(node.inputs[0]!, node);
  const weights = int8WeightsOf({ draft, node, tensor: node.inputs[1]! });
  const bias = int32BiasOf({ draft, node, inScale: a.scale, weightScales: weights.scales });
  draft.emit({
    opType: 'QGemm',
    source: node,
    microsoft: true,
    inputs: [a.tensor, ...draft.parameters(a), weights.values, weights.scale, weights.zeroPoint, bias],
    outputs: [node.outputs[0]!],
    attributes: { transB: { type: 'int', value: 1 } },
  });
}
