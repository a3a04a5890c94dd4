/**
 * The int8 engine's program as plain data: the fused layers lowering produces and engineFile.ts writes.
 * Conv (+requantize, +SiLU table, +SE gate on its input, +residual add), depthwise (+SiLU table, +SE pool),
 * squeeze-excitation, and the head (pool + classifier).
 */

/** What a conv and a depthwise layer share: geometry, int8 weights and the requantize (+ SiLU table) after them. */
export interface ConvolutionFields {
  name: string;
  block: number;
  input: string;
  output: string;
  kernel: [number, number];
  stride: number;
  /** top, left, bottom, right */
  pads: [number, number, number, number];
  weights: Int8Array;
  /** The input's zero point as a stored int8 value (padding reads it); the bias already holds −inputZero · Σw. */
  inputZero: number;
  bias: Int32Array;
  multipliers: Int32Array;
  shifts: Int32Array;
  table: Int8Array | null;
}

/** weights: [out][kh][kw][in] */
export interface ConvLayer extends ConvolutionFields {
  kind: 'conv';
  inChannels: number;
  outChannels: number;
  /**
   * Input scaled by the preceding SE gate: q(dq(x) · dq(gate[c]) / outScale), in float as the graph does; inZero is
   * x's zero point, outZero the product's (= inputZero).
   */
  gate: { inScale: number; inZero: number; outScale: number; outZero: number } | null;
  /** Residual add fused after the requantize: q((dq(main) + dq(skip)) / outScale), in float as the graph does. */
  residual: { tensor: string; mainScale: number; skipScale: number; outScale: number } | null;
}

/** weights: [kh][kw][c] */
export interface DepthwiseLayer extends ConvolutionFields {
  kind: 'depthwise';
  channels: number;
  pool: boolean;
}

export interface SeLayer {
  kind: 'se';
  name: string;
  block: number;
  channels: number;
  reduced: number;
  inScale: number;
  /** The pooled depthwise output's zero point (stored int8). */
  inZero: number;
  poolScale: number;
  fc1OutScale: number;
  fc1ActScale: number;
  /** The FC1 SiLU output's zero point (stored int8), which FC2 reads. */
  fc1ActZero: number;
  gateScale: number;
  /** The gate's zero point (stored int8), where the engine quantizes the gate itself (no gateTable). */
  gateZero: number;
  /** [reduced][channels] */
  fc1Weights: Int8Array;
  fc1Scale: Float32Array;
  fc1Bias: Float32Array;
  /** SiLU from the FC1 output's int8 to its activation's int8. */
  fc1Table: Int8Array;
  /** [channels][reduced] */
  fc2Weights: Int8Array;
  fc2Scale: Float32Array;
  fc2Bias: Float32Array;
  /**
   * When the gate's Sigmoid reads the quantized FC2 output (the onnxruntime placement): the dequantized gate for
   * each int8 FC2 output. Null (older bundles): the engine computes the Sigmoid of the float FC2 output.
   */
  gateTable: { inScale: number; values: Float32Array } | null;
}

export interface HeadLayer {
  kind: 'head';
  name: string;
  block: number;
  input: string;
  channels: number;
  classes: number;
  inScale: number;
  poolScale: number;
  /** The activation between the last conv and the pool (SiLU), as float values of each int8 input; null: none. */
  table: Float32Array | null;
  /** [classes][channels] */
  weights: Int8Array;
  scale: Float32Array;
  bias: Float32Array;
}

export type EngineLayer = ConvLayer | DepthwiseLayer | SeLayer | HeadLayer;

export interface EngineProgram {
  input: { tensor: string; channels: number; height: number; width: number; scale: number };
  classes: number;
  layers: EngineLayer[];
}
