/**
 * Sensitivity: quantize one layer at a time (its planned activation inputs and weights) and measure how far the
 * logits move from fp32; then `--max-drop`: keep the most sensitive layers in float until the int8 top-1 is within
 * the allowed drop of fp32. A "layer" is any node that reads a dequantized tensor.
 */
import { meanCosine, top1Agreement, topKAccuracy } from '../eval/metrics.js';
import type { Model } from '../onnx/ir.js';
import { logitsFrom } from '../eval/logits.js';
import type { QdqContextWithModel } from './context.js';
import type { QuantizationPlan } from './plan.js';
import { qdqModelFrom } from './qdq.js';

export interface LayerSensitivity {
  node: string;
  /** Mean logit cosine to fp32 with only this layer quantized. */
  cosine: number;
  /** Top-1 agreement (%) with fp32 with only this layer quantized. */
  agreement: number;
}

/** The plan restricted to (`keep` true) or without (`keep` false) the given nodes. */
export function planFilteredByNodes(
  plan: QuantizationPlan,
  nodes: ReadonlySet<string>,
  keep: boolean,
): QuantizationPlan {
  const wanted = (node: string) => nodes.has(node) === keep;
  return {
    ...plan,
    activations: plan.activations
      .map((a) => ({ ...a, uses: a.uses.filter((u) => wanted(u.node)) }))
      .filter((a) => a.uses.length > 0),
    weights: plan.weights.filter((w) => wanted(w.node)),
  };
}

export function planNodes(plan: QuantizationPlan): string[] {
  const nodes = new Set<string>();
  for (const a of plan.activations) for (const u of a.uses) nodes.add(u.node);
  for (const w of plan.weights) nodes.add(w.node);
  return [...nodes];
}

interface EvalContext extends QdqContextWithModel {
  /** The float graph Q/DQ goes into (fp32, or fp32 with corrected biases); `fp32` is the reference. */
  base: Model;
}

const logitsOf = (model: Model, context: EvalContext) =>
  logitsFrom({ model, batches: context.batches, inputSize: context.inputSize, fuseQdq: false });

const quantizedWith = (context: EvalContext, plan: QuantizationPlan) =>
  qdqModelFrom({
    model: context.base,
    plan,
    ranges: context.ranges,
    weightQmax: context.weightQmax,
    weightFormat: context.weightFormat,
    roundedWeights: context.roundedWeights,
  }).model;

export async function layerSensitivities(
  context: EvalContext & { onProgress?: (done: number, total: number) => void },
): Promise<LayerSensitivity[]> {
  const reference = await logitsOf(context.fp32, context);
  const nodes = planNodes(context.plan);
  const results: LayerSensitivity[] = [];
  for (const node of nodes) {
    const logits = await logitsOf(
      quantizedWith(context, planFilteredByNodes(context.plan, new Set([node]), true)),
      context,
    );
    results.push({ node, cosine: meanCosine(reference, logits), agreement: top1Agreement(reference, logits) });
    context.onProgress?.(results.length, nodes.length);
  }
  return results.sort((a, b) => a.cosine - b.cosine || a.node.localeCompare(b.node));
}

export interface MaxDropResult {
  keepFloat: string[];
  fp32Top1: number;
  int8Top1: number;
  steps: { floatLayers: number; top1: number; agreement: number }[];
}

/** Keeps the most sensitive layers in float, in growing steps, until top-1 is within `maxDrop` points of fp32. */
export async function keepFloatForMaxDrop(
  context: EvalContext & { sensitivities: LayerSensitivity[]; maxDrop: number },
): Promise<MaxDropResult> {
  const labels = context.batches.flatMap((b) => b.items.map((i) => i.label ?? -1));
  if (labels.some((l) => l < 0)) throw new Error('internal: max-drop needs labelled images');
  const reference = await logitsOf(context.fp32, context);
  const fp32Top1 = topKAccuracy(reference, labels, 1);
  const steps: MaxDropResult['steps'] = [];
  const order = context.sensitivities.map((s) => s.node);
  const counts = [0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128]
    .filter((n) => n < order.length)
    .concat(order.length);
  for (const n of counts) {
    const keep = new Set(order.slice(0, n));
    const logits = await logitsOf(quantizedWith(context, planFilteredByNodes(context.plan, keep, false)), context);
    const top1 = topKAccuracy(logits, labels, 1);
    steps.push({ floatLayers: n, top1, agreement: top1Agreement(reference, logits) });
    if (fp32Top1 - top1 <= context.maxDrop) return { keepFloat: [...keep], fp32Top1, int8Top1: top1, steps };
  }
  return { keepFloat: order, fp32Top1, int8Top1: fp32Top1, steps };
}
