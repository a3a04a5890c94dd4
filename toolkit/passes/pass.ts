/** Graph passes are pure: a model in, a new model and a report of what was done out (Polygraphy-style). */
import type { Model } from '../onnx/ir.js';

export interface PassReport {
  pass: string;
  /** One line, e.g. "BatchNormalization folded into Conv: 49". */
  summary: string;
  counts: Record<string, number>;
}

export interface PassResult {
  model: Model;
  report: PassReport;
}

/** A model whose graph has the given nodes and initializers, everything else shared with `model`. */
export function withGraph(model: Model, changes: Partial<Model['graph']>): Model {
  return { ...model, graph: { ...model.graph, ...changes } };
}
