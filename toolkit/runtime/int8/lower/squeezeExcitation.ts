/**
 * A squeeze-excitation block `structureOf` matched (GlobalAveragePool → Q → FC1 → SiLU → Q → FC2 → Sigmoid → Q →
 * Mul with the block's activation → Q) → one SE layer. The depthwise layer before it also pools, and the conv
 * reading the gated tensor applies the gate. Each link must be quantized the way the engine computes it.
 */
import type { Node } from '../../../onnx/ir.js';
import type { ProgramDraft } from './draft.js';
import type { QdqView, SeNodes } from './qdqView.js';
import { gateTable, siluTable } from './tables.js';

export function lowerSqueezeExcitation(options: { view: QdqView; draft: ProgramDraft; node: Node }): void {
  const { draft, node } = options;
  // Typed explicitly so that `view.fail` (never) narrows.
  const view: QdqView = options.view;
  const pooledOut = view.quantizerOf(node.outputs[0]!);
  const firstFc = pooledOut && oneReader({ view, of: pooledOut.quantized, opType: 'Conv' });
  if (!pooledOut || !firstFc) return; // the head's pool: lowered with the classifier
  view.symmetric(pooledOut, node, 'the pooled output');
  const se = view.squeezeExcitationAt(node);
  const e = view.activationBehind(node.inputs[0]!, node);
  const dw = draft.producedBy.get(e.quantized);
  if (dw?.kind !== 'depthwise') view.fail(node, 'squeeze-excitation must pool a depthwise conv output');
  dw.pool = true;
  const links = quantizedLinks({ view, fc1: se?.reduce ?? firstFc, se });
  if (!links.scaleMul.inputs.includes(view.dequantizerOf(e.quantized) ?? ''))
    view.fail(links.scaleMul, 'the gate does not scale the pooled activation');
  const { w1, w2, fc1, fc2 } = links;
  const channels = dw.channels;
  const reduced = w1.dims[0]!;
  if (w1.dims[1] !== channels || w2.dims[0] !== channels || w2.dims[1] !== reduced)
    view.fail(fc1, 'FC shapes do not match the pooled channels');
  if (!se) view.fail(node, 'structureOf did not recognise this squeeze-excitation block');
  draft.gated.set(links.scaled.quantized, {
    tensor: e.quantized,
    inScale: e.scale,
    inZero: e.zero,
    outScale: links.scaled.scale,
  });
  for (const n of [fc1, links.fcAct, fc2, links.gateSigmoid, links.scaleMul]) draft.handled.add(n.name);
  const { fcOut, fcActOut, fc2Out, gate } = links;
  draft.layers.push({
    kind: 'se',
    name: node.name,
    block: 0,
    channels,
    reduced,
    inScale: e.scale,
    inZero: e.zero,
    poolScale: pooledOut.scale,
    fc1OutScale: fcOut.scale,
    fc1ActScale: fcActOut.scale,
    fc1ActZero: fcActOut.zero,
    gateScale: gate.scale,
    gateZero: gate.zero,
    fc1Weights: w1.values,
    fc1Scale: Float32Array.from(w1.scales, (s) => s * pooledOut.scale),
    fc1Bias: view.floatBias(fc1.inputs[2], reduced),
    fc1Table: siluTable(fcOut.scale, fcActOut),
    fc2Weights: w2.values,
    fc2Scale: Float32Array.from(w2.scales, (s) => s * fcActOut.scale),
    fc2Bias: view.floatBias(fc2.inputs[2], channels),
    gateTable: fc2Out ? { inScale: fc2Out.scale, values: gateTable(fc2Out.scale, gate) } : null,
  });
}

/**
 * The block's nodes with the quantization of each link, checked in the order the data flows. The nodes are the
 * match's; without one (a block `structureOf` did not recognise), the int8 links are followed instead, so the
 * error names the first link that breaks the pattern. The FC2 output counts as quantized only when the gate's
 * Sigmoid reads it dequantized (the onnxruntime placement); older bundles gate in float.
 */
function quantizedLinks(options: { view: QdqView; fc1: Node; se: SeNodes | null }) {
  const { view, fc1, se } = options;
  const w1 = view.weightBehind(fc1.inputs[1]!, fc1);
  const fcOut = view.quantizerOf(fc1.outputs[0]!);
  const fcAct = fcOut && view.siluAfter(fc1.outputs[0]!, fcOut.quantized);
  const fcActOut = fcAct && view.quantizerOf(fcAct.outputs[0]!);
  if (!fcOut || !fcAct || !fcActOut)
    return view.fail(fc1, 'expected a quantized SiLU after the first squeeze-excitation FC');
  view.symmetric(fcOut, fc1, 'the output');
  const fc2Readers = view.consumersOf(view.dequantizerOf(fcActOut.quantized) ?? '');
  const fc2 = theReader({
    view,
    readers: fc2Readers,
    match: se?.expand,
    opType: 'Conv',
    what: 'second FC',
    node: fcAct,
  });
  const w2 = view.weightBehind(fc2.inputs[1]!, fc2);
  const fc2Out = view.quantizerOf(fc2.outputs[0]!);
  if (fc2Out) view.symmetric(fc2Out, fc2, 'the output');
  const fc2Dequantized = fc2Out ? (view.dequantizerOf(fc2Out.quantized) ?? '') : '';
  const gateReaders = [...view.consumersOf(fc2Dequantized), ...view.consumersOf(fc2.outputs[0]!)];
  const gateSigmoid = theReader({
    view,
    readers: gateReaders,
    match: se?.gate,
    opType: 'Sigmoid',
    what: 'gate Sigmoid',
    node: fc2,
  });
  const gate = view.quantizerOf(gateSigmoid.outputs[0]!);
  if (!gate) return view.fail(gateSigmoid, 'the gate is not quantized');
  const mulReaders = view.consumersOf(view.dequantizerOf(gate.quantized) ?? '');
  const scaleMul = theReader({
    view,
    readers: mulReaders,
    match: se?.scale,
    opType: 'Mul',
    what: 'gate Mul',
    node: gateSigmoid,
  });
  const scaled = view.quantizerOf(scaleMul.outputs[0]!);
  if (!scaled) return view.fail(scaleMul, 'the gated activation is not quantized');
  const gateReadsInt8 = fc2Out !== null && gateSigmoid.inputs[0] === fc2Dequantized;
  return {
    fc1,
    fc2,
    gateSigmoid,
    scaleMul,
    w1,
    w2,
    fcOut,
    fcAct,
    fcActOut,
    fc2Out: gateReadsInt8 ? fc2Out : null,
    gate,
    scaled,
  };
}

/** The one reader of this kind among `readers`, which must be the node the match names (when there is a match). */
function theReader(options: {
  view: QdqView;
  readers: Node[];
  match: Node | undefined;
  opType: string;
  what: string;
  node: Node;
}): Node {
  const { view, readers, match, opType, what, node } = options;
  const ofKind = readers.filter((n) => n.opType === opType);
  if (ofKind.length !== 1) return view.fail(node, `expected one ${what}, found ${ofKind.length}`);
  if (match && ofKind[0] !== match) view.fail(node, `the ${what} reading the int8 value is not the block's`);
  return ofKind[0]!;
}

/** The first reader of this kind of an int8 tensor, through its DequantizeLinear. */
function oneReader(options: { view: QdqView; of: string; opType: string }): Node | undefined {
  const { view } = options;
  return view.consumersOf(view.dequantizerOf(options.of) ?? '').find((n) => n.opType === options.opType);
}
