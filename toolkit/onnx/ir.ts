/**
 * A small in-memory ONNX IR: plain data, close to ModelProto but with initializers as typed arrays and
 * attributes as tagged values. Passes take a Model and return a new one; nothing here mutates.
 */

/** ONNX TensorProto.DataType values we name. */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
} as const;
export type DataTypeCode = number;

/** A tensor dimension: a number, a symbolic name (`batch`), or null when unknown. */
export type Dim = number | string | null;

export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | string[];

export interface ExternalDataRef {
  /** Path relative to the model file, as written in the model. */
  location: string;
  offset: number;
  length: number;
  checksum?: string;
}

export interface Tensor {
  name: string;
  dataType: DataTypeCode;
  dims: number[];
  /**
   * Element data. FLOAT→Float32Array, DOUBLE→Float64Array, INT8→Int8Array, UINT8/BOOL→Uint8Array,
   * INT16→Int16Array, UINT16/FLOAT16/BFLOAT16→Uint16Array (raw bits), INT32→Int32Array, UINT32→Uint32Array,
   * INT64→BigInt64Array, UINT64→BigUint64Array, STRING→string[].
   */
  data: TensorData;
  docString?: string;
  /** Set when the tensor was read from (or should be written to) an external data file. */
  external?: ExternalDataRef;
}

export type Attribute =
  | { type: 'float'; value: number }
  | { type: 'int'; value: number | bigint }
  | { type: 'string'; value: string }
  | { type: 'tensor'; value: Tensor }
  | { type: 'graph'; value: Graph }
  | { type: 'floats'; value: number[] }
  | { type: 'ints'; value: (number | bigint)[] }
  | { type: 'strings'; value: string[] }
  | { type: 'tensors'; value: Tensor[] }
  | { type: 'graphs'; value: Graph[] };

export interface Node {
  name: string;
  opType: string;
  /** '' is the default ONNX domain. */
  domain: string;
  /** '' marks an omitted optional input. */
  inputs: string[];
  outputs: string[];
  attributes: Record<string, Attribute>;
  docString?: string;
}

export interface ValueInfo {
  name: string;
  /** Element type (TensorProto.DataType); 0 when the value is not a tensor or unknown. */
  elemType: DataTypeCode;
  /** undefined: rank unknown. */
  shape?: Dim[];
  docString?: string;
}

export interface Graph {
  name: string;
  nodes: Node[];
  initializers: Tensor[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  valueInfo: ValueInfo[];
  docString?: string;
}

export interface OpsetImport {
  domain: string;
  version: number;
}

export interface Model {
  irVersion: number;
  opsetImports: OpsetImport[];
  producerName: string;
  producerVersion: string;
  domain: string;
  modelVersion: number;
  docString: string;
  metadataProps: { key: string; value: string }[];
  graph: Graph;
}
