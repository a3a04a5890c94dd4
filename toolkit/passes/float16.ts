/**
 * An fp32 graph as an fp16 one, for strongly typed TensorRT (11.x has no precision flags: a tensor's type in the ONNX
 * is its precision). Float initializers and constants become float16; the graph keeps its float32 inputs and outputs
 * (a Cast after each input, one before each output), so callers feed and read float32 as before.
 */
import { makeNode } from '../onnx/graph.js';
import { DataType, type Model, type Node, type Tensor } from '../onnx/ir.js';
import { UserError } from '../errors.js';
import { withGraph, type PassResult } from './pass.js';

const scratch = new Float32Array(1);
const bits = new Uint32Array(scratch.buffer);

/** IEEE-754 binary16 bits of `value`, rounded to nearest, ties to even (overflow to ±infinity). */
export function float16BitsFrom(value: number): number {
  scratch[0] = value;
  const x = bits[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  const roundedShift = (value: number, shift: number) => {
    const kept = value >>> shift;
    const rest = value & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    return rest > half || (rest === half && (kept & 1) === 1) ? kept + 1 : kept;
  };
  if (e <= 0) {
    // Subnormal: the value is m · 2^-24 with m = (1.mantissa · 2^23) >> (14 - e).
    if (e < -10) return sign;
    mantissa |= 0x800000;
    return sign | roundedShift(mantissa, 14 - e);
  }
  // A carry out of the mantissa moves into the exponent, which is the right result (up to infinity).
  return sign | roundedShift((e << 23) | mantissa, 13);
}

/** Ops whose float inputs and outputs may all be float16 (ONNX type constraints), as they occur in EfficientNet graphs. */
const FLOAT16_OPS = new Set([
  'Conv',
  'Sigmoid',
  'Mul',
  'Add',
  'Sub',
  'Div',
  'Relu',
  'Clip',
  'HardSigmoid',
  'HardSwish',
  'GlobalAveragePool',
  'AveragePool',
  'MaxPool',
  'ReduceMean',
  'Gemm',
  'MatMul',
  'Flatten',
  'Reshape',
  'Squeeze',
  'Unsqueeze',
  'Transpose',
  'Concat',
  'Identity',
  'Dropout',
  'Softmax',
  'BatchNormalization',
  'Constant',
  'Shape',
  'Gather',
]);

function float16Tensor(tensor: Tensor): Tensor {
  if (tensor.dataType !== DataType.FLOAT) return tensor;
  const data = new Uint16Array(tensor.data.length);
  (tensor.data as Float32Array).forEach((v, i) => {
    data[i] = float16BitsFrom(v);
  });
  const { external: _dropped, ...rest } = tensor;
  return { ...rest, dataType: DataType.FLOAT16, data };
}

function float16Node(node: Node): Node {
  const value = node.attributes.value;
  if (node.opType === 'Constant' && value?.type === 'tensor')
    return {
      ...node,
      attributes: { ...node.attributes, value: { type: 'tensor', value: float16Tensor(value.value) } },
    };
  return node;
}

export function float16ModelFrom(model: Model): PassResult {
  const { graph } = model;
  const unsupported = [
    ...new Set(graph.nodes.filter((n) => n.domain !== '' || !FLOAT16_OPS.has(n.opType)).map((n) => n.opType)),
  ];
  if (unsupported.length > 0) {
    throw new UserError(
      `cannot make an fp16 graph for a strongly typed TensorRT build: ${unsupported.join(', ')} ${unsupported.length === 1 ? 'is' : 'are'} not known to take float16 everywhere; build this model with precision int8 or fp32`,
    );
  }
  const floatInputs = graph.inputs.filter(
    (v) => v.elemType === DataType.FLOAT && !graph.initializers.some((i) => i.name === v.name),
  );
  const floatOutputs = graph.outputs.filter((v) => v.elemType === DataType.FLOAT);
  // Inside the graph the float32 boundary tensors are read (inputs) or written (outputs) under float16 names.
  const renamed = new Map<string, string>([...floatInputs, ...floatOutputs].map((v) => [v.name, `${v.name}__fp16`]));
  const rename = (name: string) => renamed.get(name) ?? name;
  const cast = (from: string, to: string, type: number, name: string) =>
    makeNode({ opType: 'Cast', name, inputs: [from], outputs: [to], attributes: { to: { type: 'int', value: type } } });
  const nodes = [
    ...floatInputs.map((v) => cast(v.name, rename(v.name), DataType.FLOAT16, `${v.name}__to_fp16`)),
    ...graph.nodes.map((n) => float16Node({ ...n, inputs: n.inputs.map(rename), outputs: n.outputs.map(rename) })),
    ...floatOutputs.map((v) => cast(rename(v.name), v.name, DataType.FLOAT, `${v.name}__to_fp32`)),
  ];
  const initializers = graph.initializers.map(float16Tensor);
  const valueInfo = graph.valueInfo.map((v) =>
    v.elemType === DataType.FLOAT ? { ...v, elemType: DataType.FLOAT16 } : v,
  );
  const converted = initializers.filter((t, i) => t !== graph.initializers[i]).length;
  return {
    model: withGraph(model, { nodes, initializers, valueInfo }),
    report: {
      pass: 'float16',
      summary: `initializers made float16: ${converted}; casts at the float32 inputs and outputs: ${floatInputs.length + floatOutputs.length}`,
      counts: { initializers: converted, casts: floatInputs.length + floatOutputs.length },
    },
  };
}
