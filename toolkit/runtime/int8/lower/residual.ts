/**
 * A residual Add → fused into the conv layer just before it (the block's projection): the layer adds the skip
 * tensor after its requantize and writes the Add's quantized output instead of its own.
 */
import type { Node } from '../../../onnx/ir.js';
import type { ProgramDraft } from './draft.js';
import type { ActivationSource, QdqView } from './qdqView.js';

export function fuseResidual(options: { view: QdqView; draft: ProgramDraft; node: Node }): void {
  const { draft, node } = options;
  // Typed explicitly so that `view.fail` (never) narrows.
  const view: QdqView = options.view;
  const [a, b] = node.inputs.map((t) => view.symmetric(view.activationBehind(t, node), node, 'an input')) as [
    ActivationSource,
    ActivationSource,
  ];
  const out = view.quantizerOf(node.outputs[0]!);
  if (!out) view.fail(node, 'its output is not quantized');
  view.symmetric(out, node, 'the output');
  // The branch the engine fuses is whichever input the previous layer wrote; the other is the skip.
  const last = draft.layers.at(-1);
  const main =
    last?.kind === 'conv' && last.output === a.quantized
      ? a
      : last?.kind === 'conv' && last.output === b.quantized
        ? b
        : null;
  if (!main || last?.kind !== 'conv')
    view.fail(node, 'a residual add must follow the conv that produces one of its inputs');
  const skip = main === a ? b : a;
  if (view.consumersOf(view.dequantizerOf(main.quantized) ?? '').length !== 1)
    view.fail(node, 'the projection output has other readers than the residual add');
  last.residual = { tensor: skip.quantized, mainScale: main.scale, skipScale: skip.scale, outScale: out.scale };
  last.output = out.quantized;
  draft.producedBy.set(out.quantized, last);
}
