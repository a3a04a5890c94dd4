/**
 * Lowers a bundle's Q/DQ model (the `onnxruntime` placement, quant/plan.ts) into the int8 engine's fused layers
 * (lower/program.ts). Pure: graph in, layer records out. One small view of the Q/DQ graph (lower/qdqView.ts),
 * carrying `structureOf`'s SiLU and squeeze-excitation matches, is built once and read by each op's lowering.
 *
 * Every quantized tensor of the graph is one int8 tensor here, with the graph's own scale: the engine computes the
 * same integers ONNX Runtime's QuantizeLinear produces, up to the rounding documented in native/int8/README.md.
 */
import type { Model, Node } from '../../onnx/ir.js';
import { numberBlocks } from './lower/blocks.js';
import { lowerConv } from './lower/conv.js';
import { emptyDraft, type ProgramDraft } from './lower/draft.js';
import { lowerHead } from './lower/head.js';
import type { EngineProgram } from './lower/program.js';
import { QdqView } from './lower/qdqView.js';
import { fuseResidual } from './lower/residual.js';
import { lowerSqueezeExcitation } from './lower/squeezeExcitation.js';

export type {
  ConvLayer,
  DepthwiseLayer,
  EngineLayer,
  EngineProgram,
  HeadLayer,
  SeLayer,
} from './lower/program.js';
export { LoweringError } from './lower/qdqView.js';

type OpLowering = (options: { view: QdqView; draft: ProgramDraft; node: Node }) => void;

const LOWERING_BY_OP: ReadonlyMap<string, OpLowering> = new Map([
  ['Conv', lowerConv],
  ['GlobalAveragePool', lowerSqueezeExcitation],
  ['Add', fuseResidual],
  ['Gemm', lowerHead],
]);
/** Lowered inside another op's layer (Q/DQ pairs, SiLU and gate nodes, the head's Flatten). */
const FUSED_OPS = new Set(['QuantizeLinear', 'DequantizeLinear', 'Sigmoid', 'Flatten', 'Mul']);

export function engineProgramFrom(options: { model: Model }): EngineProgram {
  const view = new QdqView(options.model);
  const input = quantizedInputOf(view);
  const draft = emptyDraft();
  for (const node of options.model.graph.nodes) {
    if (draft.handled.has(node.name)) continue;
    const lower = LOWERING_BY_OP.get(node.opType);
    if (lower) lower({ view, draft, node });
    else if (!FUSED_OPS.has(node.opType))
      view.fail(node, 'this operator is not part of the EfficientNet blocks the engine fuses');
  }
  if (draft.layers.at(-1)?.kind !== 'head') view.fail('graph', 'no classifier head (GlobalAveragePool → Gemm) found');
  numberBlocks(draft.layers);
  return { input, classes: draft.classes, layers: draft.layers };
}

function quantizedInputOf(view: QdqView): EngineProgram['input'] {
  const { graph } = view.model;
  const input = graph.inputs[0];
  if (!input || graph.inputs.length !== 1) return view.fail('graph', 'expected one input');
  const dims = input.shape ?? [];
  const [channels, height, width] = dims.slice(1).map(Number);
  if (dims.length !== 4 || !channels || !height || !width)
    return view.fail('graph', `input '${input.name}' needs a fixed [N, C, H, W] shape, got [${dims.join(', ')}]`);
  const quantizer = view.quantizerOf(input.name);
  if (!quantizer) return view.fail('graph', `input '${input.name}' is not quantized`);
  view.symmetric(quantizer, 'graph', 'the input');
  return { tensor: quantizer.quantized, channels, height, width, scale: quantizer.scale };
}
