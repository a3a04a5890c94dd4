/** Small graphs and engine inspector entries written the way TensorRT writes them, for the fusion report's tests. */
import { makeNode, makeTensor } from '../../toolkit/onnx/graph.js';
import { DataType, type Model } from '../../toolkit/onnx/ir.js';

/** [opType, name, inputs, outputs] */
export type NodeRow = [string, string, string[], string[]];

/** A model of `nodes` whose weights are one-float initializers (the fusion report reads names, not values). */
export function modelOfNodes(options: {
  inputs: string[];
  outputs: string[];
  weights: string[];
  nodes: NodeRow[];
}): Model {
  return {
    irVersion: 8,
    opsetImports: [{ domain: '', version: 13 }],
    producerName: 'test',
    producerVersion: '',
    domain: '',
    modelVersion: 0,
    docString: '',
    metadataProps: [],
    graph: {
      name: 'g',
      docString: '',
      valueInfo: [],
      inputs: options.inputs.map((name) => ({ name, elemType: DataType.FLOAT })),
      outputs: options.outputs.map((name) => ({ name, elemType: DataType.FLOAT })),
      initializers: options.weights.map((name) =>
        makeTensor({ name, dataType: DataType.FLOAT, dims: [1], data: new Float32Array([1]) }),
      ),
      nodes: options.nodes.map(([opType, name, inputs, outputs]) => makeNode({ opType, name, inputs, outputs })),
    },
  };
}

export interface DetailedLayer {
  name: string;
  type?: string;
  origin?: string;
  metadata?: string;
  inputs?: string[];
  outputs?: string[];
  format?: string;
}

/** One `kDETAILED` entry: tensors with a format, `Origin` and `Metadata` only when given. */
export function detailedLayer(layer: DetailedLayer): Record<string, unknown> {
  const tensor = (Name: string) => ({
    Name,
    Location: 'Device',
    Dimensions: [1, 8, 4, 4],
    'Format/Datatype': layer.format ?? 'Thirty-two wide channel vectorized row major Int8 format',
  });
  return {
    Name: layer.name,
    LayerType: layer.type ?? 'CaskConvolution',
    Inputs: (layer.inputs ?? []).map(tensor),
    Outputs: (layer.outputs ?? []).map(tensor),
    ...(layer.origin ? { Origin: layer.origin } : {}),
    ...(layer.metadata ? { Metadata: layer.metadata } : {}),
    TacticValue: '0x0000000000000000',
  };
}

/** TensorRT ≥ 8.6 Metadata: `[ONNX Layer: n]` records, \x1F within a fusion group, \x1E between sub-groups. */
export function metadataOf(groups: string[][]): string {
  return groups.map((g) => g.map((n) => `[ONNX Layer: ${n}]`).join('\x1F')).join('\x1E');
}

export function inspectorJsonOf(layers: unknown[], bindings: string[] = []): string {
  return JSON.stringify({ Layers: layers, Bindings: bindings });
}
