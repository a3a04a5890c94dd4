/** TensorProto → Tensor: raw fields first, then checked typed data (or an external reference). */
import { dataTypeInfo, dataTypeName, emptyData, SUPPORTED_DATA_TYPE_NAMES } from '../dtypes.js';
import type { DataTypeCode, ExternalDataRef, Tensor, TensorData } from '../ir.js';
import { DataType } from '../ir.js';
import { DataLocation, TensorField as TF } from '../schema.js';
import { WireError, type WireReader, WireType } from '../wire.js';
import { type DecodeContext, decodeEntry, setDoc } from './decodeContext.js';
import { plural, SchemaError } from './errors.js';
import { typedFromLittleEndian } from './typedFromBytes.js';

/** Raw fields of one TensorProto, before they are turned into typed data. */
interface TensorFields {
  name: string;
  dataType: DataTypeCode;
  dims: number[];
  raw?: Uint8Array;
  /** float_data / double_data as little-endian byte runs (packed runs or single fixed-width values). */
  floatRuns: Uint8Array[];
  doubleRuns: Uint8Array[];
  int32: number[];
  int64: bigint[];
  uint64: bigint[];
  strings: string[];
  external: { key: string; value: string }[];
  location: number;
  docString?: string;
}

export function decodeTensor(r: WireReader, ctx: DecodeContext): Tensor {
  const f: TensorFields = {
    name: '',
    dataType: 0,
    dims: [],
    floatRuns: [],
    doubleRuns: [],
    int32: [],
    int64: [],
    uint64: [],
    strings: [],
    external: [],
    location: DataLocation.DEFAULT,
  };
  while (!r.done()) {
    const tag = r.tag();
    const wt = tag & 7;
    switch (tag >>> 3) {
      case TF.dims:
        r.repeatedVarint(wt, (x) => x.int64Number(), f.dims);
        break;
      case TF.dataType:
        r.expect(wt, WireType.VARINT);
        f.dataType = r.int32();
        break;
      case TF.floatData:
        f.floatRuns.push(fixedRun(r, wt, 4));
        break;
      case TF.int32Data:
        r.repeatedVarint(wt, (x) => x.int32(), f.int32);
        break;
      case TF.stringData:
        r.expect(wt, WireType.LEN);
        f.strings.push(r.string());
        break;
      case TF.int64Data:
        r.repeatedVarint(wt, (x) => x.int64Big(), f.int64);
        break;
      case TF.name:
        r.expect(wt, WireType.LEN);
        f.name = r.string();
        break;
      case TF.rawData:
        r.expect(wt, WireType.LEN);
        f.raw = r.bytes();
        break;
      case TF.doubleData:
        f.doubleRuns.push(fixedRun(r, wt, 8));
        break;
      case TF.uint64Data:
        r.repeatedVarint(wt, (x) => x.uint64Big(), f.uint64);
        break;
      case TF.docString:
        r.expect(wt, WireType.LEN);
        setDoc(f, r.string());
        break;
      case TF.externalData:
        r.expect(wt, WireType.LEN);
        f.external.push(decodeEntry(r.child()));
        break;
      case TF.dataLocation:
        r.expect(wt, WireType.VARINT);
        f.location = r.int32();
        break;
      case TF.segment:
        throw new SchemaError(`tensor '${f.name}' is split into segments, which ONNX no longer supports`);
      default:
        ctx.skip(`TensorProto field ${tag >>> 3}`);
        r.skip(wt);
    }
  }
  return tensorFromFields(f, ctx);
}

/** A packed run, or one unpacked fixed-width value, as its little-endian bytes (a view). */
function fixedRun(r: WireReader, wt: number, size: number): Uint8Array {
  if (wt === WireType.LEN) {
    const start = r.pos;
    const bytes = r.bytes();
    if (bytes.length % size !== 0) throw new WireError(start, `packed run is not a multiple of ${size} bytes`, false);
    return bytes;
  }
  r.expect(wt, size === 4 ? WireType.I32 : WireType.I64);
  const start = r.pos;
  r.skip(wt);
  return r.buf.subarray(start, start + size);
}

function tensorFromFields(f: TensorFields, ctx: DecodeContext): Tensor {
  const label = f.name === '' ? 'an unnamed tensor' : `tensor '${f.name}'`;
  const info = dataTypeInfo(f.dataType);
  if (info === undefined) {
    throw new SchemaError(
      `${label} has data type ${dataTypeName(f.dataType)}, which effnet-edge does not support ` +
        `(supported: ${SUPPORTED_DATA_TYPE_NAMES.join(', ')})`,
    );
  }
  for (const d of f.dims) {
    if (d < 0) throw new SchemaError(`${label} has a negative dimension in dims [${f.dims.join(', ')}]`);
  }
  const count = f.dims.reduce((a, b) => a * b, 1);
  const tensor: Tensor = { name: f.name, dataType: f.dataType, dims: f.dims, data: emptyData(f.dataType, 0)! };
  if (f.docString !== undefined) tensor.docString = f.docString;

  if (f.location === DataLocation.EXTERNAL) {
    tensor.external = externalRef(f, label, count * info.size);
    ctx.externalTensors.push(tensor);
    return tensor;
  }
  tensor.data = typedData(f, label, count);
  if (tensor.data.length !== count) {
    throw new SchemaError(
      `${label} holds ${plural(tensor.data.length, 'value')} but its dims [${f.dims.join(', ')}] need ${count}`,
    );
  }
  return tensor;
}

function externalRef(f: TensorFields, label: string, expectedLength: number): ExternalDataRef {
  if (f.dataType === DataType.STRING) throw new SchemaError(`${label} is a STRING tensor stored as external data`);
  const entries = new Map(f.external.map((e) => [e.key, e.value]));
  const location = entries.get('location');
  if (location === undefined || location === '') {
    throw new SchemaError(`${label} is marked as external data but has no 'location'`);
  }
  const int = (key: string, fallback: number): number => {
    const text = entries.get(key);
    if (text === undefined) return fallback;
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
      throw new SchemaError(`${label} has external data ${key} '${text}', which is not a byte count`);
    }
    return Number(text);
  };
  const ref: ExternalDataRef = { location, offset: int('offset', 0), length: int('length', expectedLength) };
  const checksum = entries.get('checksum');
  if (checksum !== undefined) ref.checksum = checksum;
  return ref;
}

function typedData(f: TensorFields, label: string, count: number): TensorData {
  const type = f.dataType;
  const info = dataTypeInfo(type)!;
  const name = info.name;
  if (f.raw !== undefined && type !== DataType.STRING) {
    if (f.raw.length !== count * info.size) {
      throw new SchemaError(
        `${label} has ${f.raw.length} bytes of raw_data but its dims [${f.dims.join(', ')}] and type ${name} ` +
          `need ${count * info.size}`,
      );
    }
    return typedFromLittleEndian(type, [f.raw]);
  }
  const wrongField = (field: string): never => {
    throw new SchemaError(
      `${label} of type ${name} stores its values in ${field}, which ONNX reserves for other types`,
    );
  };
  if (f.floatRuns.length > 0 && type !== DataType.FLOAT) wrongField('float_data');
  if (f.doubleRuns.length > 0 && type !== DataType.DOUBLE) wrongField('double_data');
  if (f.int64.length > 0 && type !== DataType.INT64) wrongField('int64_data');
  if (f.uint64.length > 0 && type !== DataType.UINT32 && type !== DataType.UINT64) wrongField('uint64_data');
  if (f.strings.length > 0 && type !== DataType.STRING) wrongField('string_data');
  if (f.int32.length > 0 && (info.size > 4 || type === DataType.FLOAT || type === DataType.UINT32)) {
    wrongField('int32_data');
  }
  switch (type) {
    case DataType.FLOAT:
      return typedFromLittleEndian(type, f.floatRuns);
    case DataType.DOUBLE:
      return typedFromLittleEndian(type, f.doubleRuns);
    case DataType.INT64:
      return BigInt64Array.from(f.int64);
    case DataType.UINT64:
      return BigUint64Array.from(f.uint64);
    case DataType.UINT32:
      return Uint32Array.from(f.uint64, (v) => Number(BigInt.asUintN(32, v)));
    case DataType.STRING:
      return f.strings;
    default: {
      // int32_data carries every 8-, 16- and 32-bit integer type and the 16-bit floats as bit patterns;
      // the typed array constructor wraps each value to its width.
      const Ctor = info.array!;
      return new (Ctor as Int32ArrayConstructor)(f.int32);
    }
  }
}
