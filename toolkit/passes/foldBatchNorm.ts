/**
 * Fold BatchNormalization into the Conv before it: W' = W·γ/√(σ²+ε) per output channel, b' = (b−μ)·γ/√(σ²+ε) + β.
 * Only where the Conv's output feeds that BN alone and all BN parameters are constant float initializers.
 */
import { DataType, type Model, type Node, type Tensor } from '../onnx/ir.js';
import { consumerMap, initializerMap } from '../onnx/graph.js';
import { withGraph, type PassResult } from './pass.js';

function floatData(tensor: Tensor | undefined): Float32Array | undefined {
  return tensor && tensor.dataType === DataType.FLOAT && tensor.data instanceof Float32Array ? tensor.data : undefined;
}

export function withBatchNormFolded(model: Model): PassResult {
  const { graph } = model;
  const initializers = initializerMap(graph);
  const consumers = consumerMap(graph);
  const graphOutputs = new Set(graph.outputs.map((o) => o.name));
  const replaced = new Map<Node, Node>();
  const dropped = new Set<Node>();
  const newTensors = new Map<string, Tensor>();
  const unused = new Set<string>();
  for (const conv of graph.nodes) {
    if (conv.opType !== 'Conv' || conv.domain !== '') continue;
    const next = consumers.get(conv.outputs[0]!) ?? [];
    const bn = next[0];
    if (next.length !== 1 || bn!.opType !== 'BatchNormalization' || graphOutputs.has(conv.outputs[0]!)) continue;
    if (bn!.outputs.filter((o) => o !== '').length !== 1) continue; // training-mode BN
    const [gamma, beta, mean, variance] = bn!.inputs.slice(1, 5).map((name) => floatData(initializers.get(name)));
    const weightTensor = initializers.get(conv.inputs[1]!);
    const weight = floatData(weightTensor);
    const bias = conv.inputs[2] ? floatData(initializers.get(conv.inputs[2])) : undefined;
    if (!gamma || !beta || !mean || !variance || !weight || (conv.inputs[2] && !bias)) continue;
    const epsilonAttribute = bn!.attributes.epsilon;
    const epsilon = epsilonAttribute?.type === 'float' ? epsilonAttribute.value : 1e-5;
    const channels = gamma.length;
    const perChannel = weight.length / channels;
    const foldedWeight = new Float32Array(weight.length);
    const foldedBias = new Float32Array(channels);
    for (let c = 0; c < channels; c++) {
      const factor = gamma[c]! / Math.sqrt(variance[c]! + epsilon);
      for (let i = 0; i < perChannel; i++) foldedWeight[c * perChannel + i] = weight[c * perChannel + i]! * factor;
      foldedBias[c] = ((bias?.[c] ?? 0) - mean[c]!) * factor + beta[c]!;
    }
    const base = conv.name || conv.outputs[0]!;
    const weightName = `${base}.folded_weight`;
    const biasName = `${base}.folded_bias`;
    newTensors.set(weightName, {
      name: weightName,
      dataType: DataType.FLOAT,
      dims: [...weightTensor!.dims],
      data: foldedWeight,
    });
    newTensors.set(biasName, { name: biasName, dataType: DataType.FLOAT, dims: [channels], data: foldedBias });
    for (const name of [...conv.inputs.slice(1), ...bn!.inputs.slice(1)]) if (name) unused.add(name);
    replaced.set(conv, { ...conv, inputs: [conv.inputs[0]!, weightName, biasName], outputs: [bn!.outputs[0]!] });
    dropped.add(bn!);
  }
  const nodes = graph.nodes.filter((n) => !dropped.has(n)).map((n) => replaced.get(n) ?? n);
  // Initializers still read elsewhere (shared weights) stay.
  const stillRead = new Set(nodes.flatMap((n) => n.inputs));
  const initializersOut = [
    ...graph.initializers.filter((t) => !unused.has(t.name) || stillRead.has(t.name)),
    ...newTensors.values(),
  ];
  const graphInputs = graph.inputs.filter((i) => !unused.has(i.name) || stillRead.has(i.name));
  // The Conv's own output no longer exists: its value info goes too.
  const gone = new Set([...replaced.keys()].map((conv) => conv.outputs[0]!));
  const valueInfo = graph.valueInfo.filter((v) => !gone.has(v.name));
  return {
    model: withGraph(model, { nodes, initializers: initializersOut, inputs: graphInputs, valueInfo }),
    report: {
      pass: 'fold-batchnorm',
      summary: `BatchNormalization folded into Conv: ${dropped.size}`,
      counts: { folded: dropped.size },
    },
  };
}
