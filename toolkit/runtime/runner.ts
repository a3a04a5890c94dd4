/** The contract every runtime implements: ONNX Runtime (on the Q/DQ graph, or `ort-int8` on the QOperator graph), TensorRT and the native int8 engine. */
export interface RunOutputs {
  /** Output name → float32 data, batch-major. */
  [name: string]: Float32Array;
}

export interface Runner {
  readonly runtime: 'onnxruntime' | 'tensorrt' | 'native-int8' | 'ort-int8';
  readonly inputName: string;
  readonly outputNames: readonly string[];
  /** Runs a batch of NCHW float32 inputs; `dims` = [N, C, H, W]. */
  run(input: Float32Array, dims: readonly number[]): Promise<RunOutputs>;
  close(): Promise<void>;
}
