/**
 * The data types the IR can hold, as one table: name, bytes per element and the typed array that stores them.
 * Everything that maps a DataType code to storage goes through here.
 */
import { DataType, type DataTypeCode, type TensorData } from './ir.js';

type NumericArrayConstructor =
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

export interface DataTypeInfo {
  name: string;
  /** 0 for STRING (variable size). */
  size: number;
  /** undefined for STRING, which is stored as string[]. */
  array: NumericArrayConstructor | undefined;
}

const TABLE: Record<number, DataTypeInfo> = {
  [DataType.FLOAT]: { name: 'FLOAT', size: 4, array: Float32Array },
  [DataType.UINT8]: { name: 'UINT8', size: 1, array: Uint8Array },
  [DataType.INT8]: { name: 'INT8', size: 1, array: Int8Array },
  [DataType.UINT16]: { name: 'UINT16', size: 2, array: Uint16Array },
  [DataType.INT16]: { name: 'INT16', size: 2, array: Int16Array },
  [DataType.INT32]: { name: 'INT32', size: 4, array: Int32Array },
  [DataType.INT64]: { name: 'INT64', size: 8, array: BigInt64Array },
  [DataType.STRING]: { name: 'STRING', size: 0, array: undefined },
  [DataType.BOOL]: { name: 'BOOL', size: 1, array: Uint8Array },
  [DataType.FLOAT16]: { name: 'FLOAT16', size: 2, array: Uint16Array },
  [DataType.DOUBLE]: { name: 'DOUBLE', size: 8, array: Float64Array },
  [DataType.UINT32]: { name: 'UINT32', size: 4, array: Uint32Array },
  [DataType.UINT64]: { name: 'UINT64', size: 8, array: BigUint64Array },
  [DataType.BFLOAT16]: { name: 'BFLOAT16', size: 2, array: Uint16Array },
};

/** Names of the ONNX types the IR cannot hold, for error messages. */
const OTHER_NAMES: Record<number, string> = {
  [DataType.UNDEFINED]: 'UNDEFINED',
  [DataType.COMPLEX64]: 'COMPLEX64',
  [DataType.COMPLEX128]: 'COMPLEX128',
  17: 'FLOAT8E4M3FN',
  18: 'FLOAT8E4M3FNUZ',
  19: 'FLOAT8E5M2',
  20: 'FLOAT8E5M2FNUZ',
  21: 'UINT4',
  22: 'INT4',
  23: 'FLOAT4E2M1',
  24: 'FLOAT8E8M0',
  25: 'UINT2',
  26: 'INT2',
};

export function dataTypeInfo(code: DataTypeCode): DataTypeInfo | undefined {
  return TABLE[code];
}

/** `FLOAT`, `INT8`, ... or `type 99` for codes ONNX does not define. */
export function dataTypeName(code: DataTypeCode): string {
  return TABLE[code]?.name ?? OTHER_NAMES[code] ?? `type ${code}`;
}

export const SUPPORTED_DATA_TYPE_NAMES: readonly string[] = Object.values(TABLE).map((t) => t.name);

/** An all-zero (or all-empty-string) data array of `count` elements of `code`; undefined if unsupported. */
export function emptyData(code: DataTypeCode, count: number): TensorData | undefined {
  const info = TABLE[code];
  if (info === undefined) return undefined;
  if (info.array === undefined) return new Array<string>(count).fill('');
  return new info.array(count);
}

/** Whether `data` is the storage the IR documents for `code`. */
export function dataMatchesType(code: DataTypeCode, data: TensorData): boolean {
  const info = TABLE[code];
  if (info === undefined) return false;
  if (info.array === undefined) return Array.isArray(data);
  return data instanceof info.array;
}
