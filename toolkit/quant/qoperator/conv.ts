/**
 * Conv (dense, depthwise, and the squeeze-excitation FCs) → QLinearConv: uint8 input, the Q/DQ graph's int8
 * per-channel weights (zero point 0), int32 bias at scale input_scale × weight_scale[c], uint8 output.
 */
import { DataType, type Node } from '../../onnx/ir.js';
import { type QOperatorDraft, uint8ZeroPointOf } from './draft.js';
import { type Chosen, outputOf, sigmoidInputFor } from './outputs.js';

export function convertConv(options: { draft: QOperatorDraft; node: Node }): void {
  const { draft, node } = options;
  const x = draft.input(node.inputs[0]!, node);
  const weights = int8WeightsOf({ draft, node, tensor: node.inputs[1]! });
  const y = outputOf({ draft, node, float: node.outputs[0]!, chosen: () => gateLogitsQuantization({ draft, node }) });
  const bias = int32BiasOf({ draft, node, inScale: x.scale, weightScales: weights.scales });
  draft.emit({
    opType: 'QLinearConv',
    source: node,
    inputs: [
      x.tensor,
      ...draft.parameters(x),
      weights.values,
      weights.scale,
      weights.zeroPoint,
      ...draft.parameters(y),
      bias,
    ],
    outputs: [y.tensor],
    attributes: node.attributes,
  });
}

/** The int8 weights behind the DequantizeLinear at `tensor`, as QLinear ops take them: values, per-channel scales and zero points. */
export function int8WeightsOf(options: { draft: QOperatorDraft; node: Node; tensor: string }) {
  const { draft, node, tensor } = options;
  const w = draft.view.weightBehind(tensor, node);
  const name = draft.view.producers.get(tensor)!.inputs[0]!;
  const channels = w.scales.length;
  return {
    values: draft.initializer({ name, dataType: DataType.INT8, dims: w.dims, data: w.values }),
    scales: w.scales,
    scale: draft.initializer({ name: `${name}.scale`, dataType: DataType.FLOAT, dims: [channels], data: w.scales }),
    zeroPoint: draft.initializer({
      name: `${name}.zero_point`,
      dataType: DataType.INT8,
      dims: [channels],
      data: new Int8Array(channels),
    }),
  };
}

/** The float bias (input 2) as int32 at scale input_scale × weight_scale[c], the products taken in float32 as ORT does. */
export function int32BiasOf(options: {
  draft: QOperatorDraft;
  node: Node;
  inScale: number;
  weightScales: Float32Array;
}): string {
  const { draft, node, inScale, weightScales } = options;
  const floats = draft.view.floatBias(node.inputs[2] || undefined, weightScales.length);
  const values = Int32Array.from(floats, (b, c) => {
    const q = Math.round(b / Math.fround(inScale * weightScales[c]!));
    if (Math.abs(q) >= 2 ** 31) draft.fail(node, `bias of channel ${c} (${b}) does not fit int32 at its scale`);
    return q;
  });
  const name = `${node.inputs[2] || node.name}.int32`;
  return draft.initializer({ name, dataType: DataType.INT32, dims: [values.length], data: values });
}

/**
 * A conv whose float output only feeds a quantized Sigmoid (the squeeze-excitation's FC2 → gate): quantized over
 * the input range that still moves the gate (outputs.ts sigmoidInputFor).
 */
function gateLogitsQuantization(options: { draft: QOperatorDraft; node: Node }): Chosen | null {
  const { draft, node } = options;
  const readers = draft.view.consumersOf(node.outputs[0]!);
  const gate = readers.length === 1 && readers[0]!.opType === 'Sigmoid' ? readers[0]! : null;
  const gateOut = gate ? draft.view.quantizerOf(gate.outputs[0]!) : null;
  return gateOut ? sigmoidInputFor({ scale: gateOut.scale, zeroPoint: uint8ZeroPointOf(gateOut) }) : null;
}
