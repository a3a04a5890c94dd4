/**
 * A bundle's Q/DQ model (the `onnxruntime` placement, quant/plan.ts) → the same network in ONNX Runtime's
 * QOperator form, the way its own QOperator quantizer builds one: every Conv a QLinearConv, SiLU as
 * QLinearSigmoid + QLinearMul, squeeze-excitation and residual as QLinearGlobalAveragePool, QLinearMul and
 * QLinearAdd, the classifier a QGemm, with uint8 activations and int8 weights (ORT's fast x86 kernels are u8s8).
 * ORT fuses only a few of the Q/DQ graph's convs into int8 kernels; this graph runs every one in int8.
 *
 * Pure: model in, model and report out. The graph's input is quantized by a uint8 QuantizeLinear; the logits come
 * out in float; input and output names and shapes are the Q/DQ model's. The bytes depend only on the input model.
 */
import type { Model, Node } from '../../onnx/ir.js';
import { bytesFromModel } from '../../onnx/write.js';
import { withGraph } from '../../passes/pass.js';
import { LoweringError, QdqView } from '../../runtime/int8/lower/qdqView.js';
import { convertConv } from './conv.js';
import { QOperatorDraft, QOperatorError, uint8ZeroPointOf } from './draft.js';
import { convertBinary, convertSigmoid } from './elementwise.js';
import { convertGemm } from './head.js';
import { convertFlatten, convertGlobalAveragePool } from './pool.js';

export { QOperatorError } from './draft.js';

export interface QOperatorReport {
  /** How many nodes of each op type the QOperator graph has. */
  ops: Record<string, number>;
  summary: string;
}

type Conversion = (options: { draft: QOperatorDraft; node: Node }) => void;

const CONVERSION_BY_OP: ReadonlyMap<string, Conversion> = new Map([
  ['Conv', convertConv],
  ['Sigmoid', convertSigmoid],
  ['Mul', convertBinary],
  ['Add', convertBinary],
  ['GlobalAveragePool', convertGlobalAveragePool],
  ['Flatten', convertFlatten],
  ['Gemm', convertGemm],
  ['QuantizeLinear', checkQuantized],
  ['DequantizeLinear', followDequantized],
]);

export function qoperatorModelFrom(options: { model: Model }): { model: Model; report: QOperatorReport } {
  const { model } = options;
  try {
    // Typed explicitly so that `draft.fail` (never) narrows.
    const draft: QOperatorDraft = new QOperatorDraft(new QdqView(model));
    quantizeInput({ draft });
    for (const node of model.graph.nodes) {
      const convert = CONVERSION_BY_OP.get(node.opType);
      if (!convert) draft.fail(node, 'this operator has no QOperator conversion here');
      convert({ draft, node });
    }
    const produced = new Set(draft.nodes.flatMap((n) => n.outputs));
    for (const output of model.graph.outputs)
      if (!produced.has(output.name))
        draft.fail('graph', `output '${output.name}' is not the classifier's float logits`);
    const graph = { nodes: draft.nodes, initializers: draft.allInitializers(), valueInfo: [] };
    const opsetImports = [
      ...model.opsetImports.filter((o) => o.domain !== 'com.microsoft'),
      { domain: 'com.microsoft', version: 1 },
    ];
    return { model: { ...withGraph(model, graph), opsetImports }, report: reportOf(draft.nodes) };
  } catch (error) {
    // The shared Q/DQ view speaks of the int8 engine; here its finding is about the QOperator conversion.
    if (error instanceof LoweringError) throw new QOperatorError(`cannot convert to QOperator: ${error.message}`);
    throw error;
  }
}

/**
 * The bytes of model.ort-int8.onnx for a CPU bundle, or null with a warning when the Q/DQ graph has something the
 * conversion does not handle: the bundle is still good, and ONNX Runtime runs its Q/DQ graph instead.
 */
export function ortInt8BytesFor(options: {
  model: Model;
  onWarning?: ((message: string) => void) | undefined;
}): Uint8Array | null {
  try {
    return bytesFromModel(qoperatorModelFrom({ model: options.model }).model);
  } catch (error) {
    if (!(error instanceof QOperatorError)) throw error;
    options.onWarning?.(`model.ort-int8.onnx left out (ONNX Runtime will run the Q/DQ graph): ${error.message}`);
    return null;
  }
}

/** The graph input through a uint8 QuantizeLinear at the Q/DQ graph's input scale. */
function quantizeInput(options: { draft: QOperatorDraft }): void {
  // Typed explicitly so that `draft.fail` (never) narrows.
  const draft: QOperatorDraft = options.draft;
  const { graph } = draft.view.model;
  const input = graph.inputs[0];
  if (!input || graph.inputs.length !== 1) draft.fail('graph', 'expected one input');
  const q = draft.view.quantizerOf(input.name);
  if (!q) draft.fail('graph', `input '${input.name}' is not quantized`);
  const out = { tensor: q.quantized, scale: q.scale, zeroPoint: uint8ZeroPointOf(q) };
  draft.represent(input.name, out);
  const source = draft.view.consumersOf(input.name).find((n) => n.opType === 'QuantizeLinear')!;
  draft.emit({
    opType: 'QuantizeLinear',
    source,
    inputs: [input.name, ...draft.parameters(out)],
    outputs: [q.quantized],
  });
}

/** A QuantizeLinear of the Q/DQ graph: the op before it already wrote its uint8 output. */
function checkQuantized(options: { draft: QOperatorDraft; node: Node }): void {
  const { draft, node } = options;
  if (!draft.emitted(node.outputs[0]!))
    draft.fail(node, `'${node.inputs[0]}' is quantized more than once or by no op this conversion handles`);
}

/** A DequantizeLinear: weights are read by the op that uses them; an activation's float name maps to its uint8 tensor. */
function followDequantized(options: { draft: QOperatorDraft; node: Node }): void {
  const { draft, node } = options;
  const q = draft.emitted(node.inputs[0]!);
  if (q) draft.represent(node.outputs[0]!, q);
  else if (!draft.view.consumersOf(node.outputs[0]!).every((n) => ['Conv', 'Gemm'].includes(n.opType)))
    draft.fail(node, `'${node.inputs[0]}' is neither an activation nor weights`);
}

function reportOf(nodes: Node[]): QOperatorReport {
  const ops: Record<string, number> = {};
  for (const node of nodes) ops[node.opType] = (ops[node.opType] ?? 0) + 1;
  const listed = Object.entries(ops)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([op, n]) => `${n} ${op}`)
    .join(', ');
  return { ops, summary: `QOperator graph: ${listed}` };
}
