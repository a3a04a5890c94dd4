/**
 * ONNX protobuf messages ⇄ IR. Decoding throws WireError for broken protobuf and SchemaError for valid
 * protobuf that is not a model we can represent; read.ts turns both into one-line FileFormatErrors.
 * Encoding is deterministic: fields in field-number order, attributes sorted by name, tensor data as raw_data.
 */
import { dataTypeInfo, dataTypeName, emptyData, SUPPORTED_DATA_TYPE_NAMES } from './dtypes.js';
import type {
  Attribute,
  DataTypeCode,
  Dim,
  ExternalDataRef,
  Graph,
  Model,
  Node,
  OpsetImport,
  Tensor,
  TensorData,
  ValueInfo,
} from './ir.js';
import { DataType } from './ir.js';
import {
  AttributeField as AF,
  AttributeType as AT,
  DataLocation,
  DimensionField,
  GraphField as GF,
  ModelField as MF,
  NodeField as NF,
  OperatorSetIdField,
  ShapeField,
  StringStringEntryField,
  TensorField as TF,
  TensorTypeField,
  TypeField,
  ValueInfoField as VF,
} from './schema.js';
import { HOST_IS_LITTLE_ENDIAN, littleEndianBytes, WireError, WireReader, WireType, WireWriter } from './wire.js';

/** Valid protobuf that is not an ONNX model we can represent; the message is the problem, without the path. */
export class SchemaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SchemaError';
  }
}

export interface DecodedModel {
  model: Model;
  /** False when the bytes held no ir_version / graph field: then they were probably not an ONNX file at all. */
  hasIrVersion: boolean;
  hasGraph: boolean;
  /** Tensors stored outside the file; their `data` is empty until read.ts loads it. */
  externalTensors: Tensor[];
  /** Things that were dropped because the IR has no place for them. */
  warnings: string[];
}

class DecodeContext {
  readonly externalTensors: Tensor[] = [];
  private readonly skipped = new Map<string, number>();

  skip(what: string): void {
    this.skipped.set(what, (this.skipped.get(what) ?? 0) + 1);
  }

  warnings(): string[] {
    return [...this.skipped].map(([what, n]) => `ignored ${n} × ${what}`);
  }
}

export function decodeModel(bytes: Uint8Array): DecodedModel {
  const ctx = new DecodeContext();
  const r = new WireReader(bytes);
  const model: Model = {
    irVersion: 0,
    opsetImports: [],
    producerName: '',
    producerVersion: '',
    domain: '',
    modelVersion: 0,
    docString: '',
    metadataProps: [],
    graph: emptyGraph(),
  };
  let hasIrVersion = false;
  let hasGraph = false;
  while (!r.done()) {
    const tag = r.tag();
    const wt = tag & 7;
    switch (tag >>> 3) {
      case MF.irVersion:
        r.expect(wt, WireType.VARINT);
        model.irVersion = r.int64Number();
        hasIrVersion = true;
        break;
      case MF.producerName:
        r.expect(wt, WireType.LEN);
        model.producerName = r.string();
        break;
      case MF.producerVersion:
        r.expect(wt, WireType.LEN);
        model.producerVersion = r.string();
        break;
      case MF.domain:
        r.expect(wt, WireType.LEN);
        model.domain = r.string();
        break;
      case MF.modelVersion:
        r.expect(wt, WireType.VARINT);
        model.modelVersion = r.int64Number();
        break;
      case MF.docString:
        r.expect(wt, WireType.LEN);
        model.docString = r.string();
        break;
      case MF.graph:
        r.expect(wt, WireType.LEN);
        model.graph = decodeGraph(r.child(), ctx);
        hasGraph = true;
        break;
      case MF.opsetImport:
        r.expect(wt, WireType.LEN);
        model.opsetImports.push(decodeOpset(r.child()));
        break;
      case MF.metadataProps:
        r.expect(wt, WireType.LEN);
        model.metadataProps.push(decodeEntry(r.child()));
        break;
      case MF.trainingInfo:
        ctx.skip('training_info');
        r.skip(wt);
        break;
      case MF.functions:
        ctx.skip('model-local function (nodes that call it will not run)');
        r.skip(wt);
        break;
      default:
        ctx.skip(`ModelProto field ${tag >>> 3}`);
        r.skip(wt);
    }
  }
  return { model, hasIrVersion, hasGraph, externalTensors: ctx.externalTensors, warnings: ctx.warnings() };
}

function emptyGraph(): Graph {
  return { name: '', nodes: [], initializers: [], inputs: [], outputs: [], valueInfo: [] };
}

function decodeOpset(r: WireReader): OpsetImport {
  const out: OpsetImport = { domain: '', version: 0 };
  while (!r.done()) {
    const tag = r.tag();
    const wt = tag & 7;
    switch (tag >>> 3) {
      case OperatorSetIdField.domain:
        r.expect(wt, WireType.LEN);
        out.domain = r.string();
        break;
      case OperatorSetIdField.version:
        r.expect(wt, WireType.VARINT);
        out.version = r.int64Number();
        break;
      default:
        r.skip(wt);
    }
  }
  return out;
}

function decodeEntry(r: WireReader): { key: string; value: string } {
  const out = { key: '', value: '' };
  while (!r.done()) {
    const tag = r.tag();
    const wt = tag & 7;
    switch (tag >>> 3) {
      case StringStringEntryField.key:
        r.expect(wt, WireType.LEN);
        out.key = r.string();
        break;
      case StringStringEntryField.value:
        r.expect(wt, WireType.LEN);
        out.value = r.string();
        break;
      default:
        r.skip(wt);
    }
  }
  return out;
}

function decodeGraph(r: WireReader, ctx: DecodeContext): Graph {
  const g = emptyGraph();
  let sparse = 0;
  while (!r.done()) {
    const tag = r.tag();
    const wt = tag & 7;
    switch (tag >>> 3) {
      case GF.node:
        r.expect(wt, WireType.LEN);
        g.nodes.push(decodeNode(r.child(), ctx));
        break;
      case GF.name:
        r.expect(wt, WireType.LEN);
        g.name = r.string();
        break;
      case GF.initializer:
        r.expect(wt, WireType.LEN);
        g.initializers.push(decodeTensor(r.child(), ctx));
        break;
      case GF.docString:
        r.expect(wt, WireType.LEN);
        setDoc(g, r.string());
        break;
      case GF.input:
        r.expect(wt, WireType.LEN);
        g.inputs.push(decodeValueInfo(r.child(), ctx));
        break;
      case GF.output:
        r.expect(wt, WireType.LEN);
        g.outputs.push(decodeValueInfo(r.child(), ctx));
        break;
      case GF.valueInfo:
        r.expect(wt, WireType.LEN);
        g.valueInfo.push(decodeValueInfo(r.child(), ctx));
        break;
      case GF.sparseInitializer:
        sparse++;
        r.skip(wt);
        break;
      case GF.quantizationAnnotation:
        ctx.skip('quantization_annotation');
        r.skip(wt);
        break;
      case GF.metadataProps:
        ctx.skip('graph metadata_props');
        r.skip(wt);
        break;
      default:
        ctx.skip(`GraphProto field ${tag >>> 3}`);
        r.skip(wt);
    }
  }
  if (sparse > 0) {
    throw new SchemaError(
      `graph '${g.name}' has ${sparse} sparse initializer(s), which effnet-edge does not support; ` +
        'store them as dense initializers (onnx: numpy_helper.from_array on the densified values)',
    );
  }
  return g;
}

function setDoc(target: { docString?: string }, doc: string): void {
  if (doc !== '') target.docString = doc;
}

function decodeNode(r: WireReader, ctx: DecodeContext): Node {
  const node: Node = { name: '', opType: '', domain: '', inputs: [], outputs: [], attributes: {} };
  const attributes: [string, Attribute][] = [];
  while (!r.done()) {
    const tag = r.tag();
    const wt = tag & 7;
    switch (tag >>> 3) {
      case NF.input:
        r.expect(wt, WireType.LEN);
        node.inputs.push(r.string());
        break;
      case NF.output:
        r.expect(wt, WireType.LEN);
        node.outputs.push(r.string());
        break;
      case NF.name:
        r.expect(wt, WireType.LEN);
        node.name = r.string();
        break;
      case NF.opType:
        r.expect(wt, WireType.LEN);
        node.opType = r.string();
        break;
      case NF.attribute:
        r.expect(wt, WireType.LEN);
        attributes.push(decodeAttribute(r.child(), ctx));
        break;
      case NF.docString:
        r.expect(wt, WireType.LEN);
        setDoc(node, r.string());
        break;
      case NF.domain:
        r.expect(wt, WireType.LEN);
        node.domain = r.string();
        break;
      case NF.overload:
        ctx.skip('node overload');
        r.skip(wt);
        break;
      case NF.metadataProps:
        ctx.skip('node metadata_props');
        r.skip(wt);
        break;
      default:
        ctx.skip(`NodeProto field ${tag >>> 3}`);
        r.skip(wt);
    }
  }
  for (const [name, value] of attributes) {
    if (Object.hasOwn(node.attributes, name)) {
      throw new SchemaError(`node '${node.name}' (${node.opType}) has two attributes named '${name}'`);
    }
    // defineProperty, so that a name like __proto__ becomes an ordinary key.
    Object.defineProperty(node.attributes, name, { value, enumerable: true, writable: true, configurable: true });
  }
  return node;
}

function decodeAttribute(r: WireReader, ctx: DecodeContext): [string, Attribute] {
  let name = '';
  let type: number = AT.UNDEFINED;
  let f: number | undefined;
  let i: number | bigint | undefined;
  let s: string | undefined;
  let t: Tensor | undefined;
  let g: Graph | undefined;
  const floats: number[] = [];
  const ints: (number | bigint)[] = [];
  const strings: string[] = [];
  const tensors: Tensor[] = [];
  const graphs: Graph[] = [];
  let unsupported: string | undefined;
  while (!r.done()) {
    const tag = r.tag();
    const wt = tag & 7;
    switch (tag >>> 3) {
      case AF.name:
        r.expect(wt, WireType.LEN);
        name = r.string();
        break;
      case AF.f:
        r.expect(wt, WireType.I32);
        f = r.float();
        break;
      case AF.i:
        r.expect(wt, WireType.VARINT);
        i = r.int64();
        break;
      case AF.s:
        r.expect(wt, WireType.LEN);
        s = r.string();
        break;
      case AF.t:
        r.expect(wt, WireType.LEN);
        t = decodeTensor(r.child(), ctx);
        break;
      case AF.g:
        r.expect(wt, WireType.LEN);
        g = decodeGraph(r.child(), ctx);
        break;
      case AF.floats:
        r.repeatedFloat(wt, floats);
        break;
      case AF.ints:
        r.repeatedVarint(wt, (x) => x.int64(), ints);
        break;
      case AF.strings:
        r.expect(wt, WireType.LEN);
        strings.push(r.string());
        break;
      case AF.tensors:
        r.expect(wt, WireType.LEN);
        tensors.push(decodeTensor(r.child(), ctx));
        break;
      case AF.graphs:
        r.expect(wt, WireType.LEN);
        graphs.push(decodeGraph(r.child(), ctx));
        break;
      case AF.docString:
        r.skip(wt);
        ctx.skip('attribute doc_string');
        break;
      case AF.type:
        r.expect(wt, WireType.VARINT);
        type = r.int32();
        break;
      case AF.refAttrName:
        r.skip(wt);
        unsupported = 'refers to a function attribute (ref_attr_name)';
        break;
      case AF.sparseTensor:
      case AF.sparseTensors:
        r.skip(wt);
        unsupported = 'holds a sparse tensor';
        break;
      case AF.tp:
      case AF.typeProtos:
        r.skip(wt);
        unsupported = 'holds a type';
        break;
      default:
        ctx.skip(`AttributeProto field ${tag >>> 3}`);
        r.skip(wt);
    }
  }
  if (unsupported !== undefined) {
    throw new SchemaError(`attribute '${name}' ${unsupported}, which effnet-edge does not support`);
  }
  if (type === AT.UNDEFINED) {
    // IR version 1 had no type field: infer it from the value present.
    type =
      f !== undefined
        ? AT.FLOAT
        : i !== undefined
          ? AT.INT
          : s !== undefined
            ? AT.STRING
            : t !== undefined
              ? AT.TENSOR
              : g !== undefined
                ? AT.GRAPH
                : floats.length > 0
                  ? AT.FLOATS
                  : ints.length > 0
                    ? AT.INTS
                    : strings.length > 0
                      ? AT.STRINGS
                      : tensors.length > 0
                        ? AT.TENSORS
                        : graphs.length > 0
                          ? AT.GRAPHS
                          : AT.UNDEFINED;
  }
  const missing = (): never => {
    throw new SchemaError(`attribute '${name}' declares type ${type} but holds no value of that type`);
  };
  switch (type) {
    case AT.FLOAT:
      return [name, { type: 'float', value: f ?? 0 }];
    case AT.INT:
      return [name, { type: 'int', value: i ?? 0 }];
    case AT.STRING:
      return [name, { type: 'string', value: s ?? '' }];
    case AT.TENSOR:
      return [name, { type: 'tensor', value: t ?? missing() }];
    case AT.GRAPH:
      return [name, { type: 'graph', value: g ?? missing() }];
    case AT.FLOATS:
      return [name, { type: 'floats', value: floats }];
    case AT.INTS:
      return [name, { type: 'ints', value: ints }];
    case AT.STRINGS:
      return [name, { type: 'strings', value: strings }];
    case AT.TENSORS:
      return [name, { type: 'tensors', value: tensors }];
    case AT.GRAPHS:
      return [name, { type: 'graphs', value: graphs }];
    default:
      throw new SchemaError(`attribute '${name}' has type ${type}, which effnet-edge does not support`);
  }
}

function decodeValueInfo(r: WireReader, ctx: DecodeContext): ValueInfo {
  const vi: ValueInfo = { name: '', elemType: 0 };
  while (!r.done()) {
    const tag = r.tag();
    const wt = tag & 7;
    switch (tag >>> 3) {
      case VF.name:
        r.expect(wt, WireType.LEN);
        vi.name = r.string();
        break;
      case VF.type:
        r.expect(wt, WireType.LEN);
        decodeType(r.child(), vi, ctx);
        break;
      case VF.docString:
        r.expect(wt, WireType.LEN);
        setDoc(vi, r.string());
        break;
      default:
        ctx.skip(`ValueInfoProto field ${tag >>> 3}`);
        r.skip(wt);
    }
  }
  return vi;
}

function decodeType(r: WireReader, vi: ValueInfo, ctx: DecodeContext): void {
  while (!r.done()) {
    const tag = r.tag();
    const wt = tag & 7;
    if (tag >>> 3 === TypeField.tensorType) {
      r.expect(wt, WireType.LEN);
      decodeTensorType(r.child(), vi);
    } else {
      if (tag >>> 3 !== TypeField.denotation) ctx.skip('non-tensor value type (sequence, map, optional, ...)');
      r.skip(wt);
    }
  }
}

function decodeTensorType(r: WireReader, vi: ValueInfo): void {
  while (!r.done()) {
    const tag = r.tag();
    const wt = tag & 7;
    switch (tag >>> 3) {
      case TensorTypeField.elemType:
        r.expect(wt, WireType.VARINT);
        vi.elemType = r.int32();
        break;
      case TensorTypeField.shape:
        r.expect(wt, WireType.LEN);
        vi.shape = decodeShape(r.child());
        break;
      default:
        r.skip(wt);
    }
  }
}

function decodeShape(r: WireReader): Dim[] {
  const dims: Dim[] = [];
  while (!r.done()) {
    const tag = r.tag();
    const wt = tag & 7;
    if (tag >>> 3 !== ShapeField.dim) {
      r.skip(wt);
      continue;
    }
    r.expect(wt, WireType.LEN);
    const d = r.child();
    let dim: Dim = null;
    while (!d.done()) {
      const dt = d.tag();
      const dwt = dt & 7;
      switch (dt >>> 3) {
        case DimensionField.dimValue:
          d.expect(dwt, WireType.VARINT);
          dim = d.int64Number();
          break;
        case DimensionField.dimParam:
          d.expect(dwt, WireType.LEN);
          dim = d.string();
          break;
        default:
          d.skip(dwt);
      }
    }
    dims.push(dim);
  }
  return dims;
}

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

function decodeTensor(r: WireReader, ctx: DecodeContext): Tensor {
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

/** Copies little-endian byte runs into one freshly allocated (hence aligned) typed array. */
export function typedFromLittleEndian(type: DataTypeCode, runs: Uint8Array[]): TensorData {
  const info = dataTypeInfo(type)!;
  const total = runs.reduce((n, run) => n + run.length, 0);
  const buffer = new ArrayBuffer(total);
  const bytes = new Uint8Array(buffer);
  let p = 0;
  for (const run of runs) {
    bytes.set(run, p);
    p += run.length;
  }
  if (!HOST_IS_LITTLE_ENDIAN && info.size > 1) {
    for (let i = 0; i < total; i += info.size) bytes.subarray(i, i + info.size).reverse();
  }
  return new info.array!(buffer, 0, total / info.size);
}

/** Wraps bytes the caller owns (freshly allocated, offset 0) as typed data without copying. */
export function typedFromOwnedBytes(type: DataTypeCode, bytes: Uint8Array): TensorData {
  const info = dataTypeInfo(type)!;
  const owned = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  if (!owned) return typedFromLittleEndian(type, [bytes]);
  if (!HOST_IS_LITTLE_ENDIAN && info.size > 1) {
    for (let i = 0; i < bytes.length; i += info.size) bytes.subarray(i, i + info.size).reverse();
  }
  return new info.array!(bytes.buffer as ArrayBuffer, 0, bytes.length / info.size);
}

// ---------------------------------------------------------------------------------------------------------------
// Encoding

export interface EncodeOptions {
  /** Tensors to write as references into external data instead of inline raw_data, by object identity. */
  external?: ReadonlyMap<Tensor, ExternalDataRef>;
}

/** Encodes a model into a chunk list; use `.concat()` for one buffer or stream `.finish().chunks` to a file. */
export function encodeModel(model: Model, options: EncodeOptions = {}): WireWriter {
  const w = new WireWriter();
  const external = options.external ?? new Map<Tensor, ExternalDataRef>();
  w.tag(MF.irVersion, WireType.VARINT).int64(model.irVersion);
  optionalString(w, MF.producerName, model.producerName);
  optionalString(w, MF.producerVersion, model.producerVersion);
  optionalString(w, MF.domain, model.domain);
  if (model.modelVersion !== 0) w.tag(MF.modelVersion, WireType.VARINT).int64(model.modelVersion);
  optionalString(w, MF.docString, model.docString);
  w.fork();
  encodeGraph(w, model.graph, external);
  w.join(MF.graph);
  for (const op of model.opsetImports) {
    w.fork();
    optionalString(w, OperatorSetIdField.domain, op.domain);
    w.tag(OperatorSetIdField.version, WireType.VARINT).int64(op.version);
    w.join(MF.opsetImport);
  }
  for (const entry of model.metadataProps) encodeEntry(w, MF.metadataProps, entry.key, entry.value);
  return w;
}

function optionalString(w: WireWriter, field: number, value: string | undefined): void {
  if (value !== undefined && value !== '') w.tag(field, WireType.LEN).string(value);
}

function encodeEntry(w: WireWriter, field: number, key: string, value: string): void {
  w.fork();
  w.tag(StringStringEntryField.key, WireType.LEN).string(key);
  w.tag(StringStringEntryField.value, WireType.LEN).string(value);
  w.join(field);
}

function encodeGraph(w: WireWriter, g: Graph, external: ReadonlyMap<Tensor, ExternalDataRef>): void {
  for (const node of g.nodes) {
    w.fork();
    encodeNode(w, node, external);
    w.join(GF.node);
  }
  optionalString(w, GF.name, g.name);
  for (const t of g.initializers) {
    w.fork();
    encodeTensor(w, t, external.get(t));
    w.join(GF.initializer);
  }
  optionalString(w, GF.docString, g.docString);
  for (const vi of g.inputs) encodeValueInfo(w, GF.input, vi);
  for (const vi of g.outputs) encodeValueInfo(w, GF.output, vi);
  for (const vi of g.valueInfo) encodeValueInfo(w, GF.valueInfo, vi);
}

function encodeNode(w: WireWriter, node: Node, external: ReadonlyMap<Tensor, ExternalDataRef>): void {
  for (const input of node.inputs) w.tag(NF.input, WireType.LEN).string(input);
  for (const output of node.outputs) w.tag(NF.output, WireType.LEN).string(output);
  optionalString(w, NF.name, node.name);
  w.tag(NF.opType, WireType.LEN).string(node.opType);
  for (const name of Object.keys(node.attributes).sort(compareStrings)) {
    w.fork();
    encodeAttribute(w, name, node.attributes[name]!, external);
    w.join(NF.attribute);
  }
  optionalString(w, NF.docString, node.docString);
  optionalString(w, NF.domain, node.domain);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Code-unit order, independent of locale, so bytes do not depend on the machine. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function encodeAttribute(
  w: WireWriter,
  name: string,
  attr: Attribute,
  external: ReadonlyMap<Tensor, ExternalDataRef>,
): void {
  w.tag(AF.name, WireType.LEN).string(name);
  let type: number;
  switch (attr.type) {
    case 'float':
      type = AT.FLOAT;
      w.tag(AF.f, WireType.I32).float(attr.value);
      break;
    case 'int':
      type = AT.INT;
      w.tag(AF.i, WireType.VARINT).int64(attr.value);
      break;
    case 'string':
      type = AT.STRING;
      w.tag(AF.s, WireType.LEN).string(attr.value);
      break;
    case 'tensor':
      type = AT.TENSOR;
      w.fork();
      encodeTensor(w, attr.value, external.get(attr.value));
      w.join(AF.t);
      break;
    case 'graph':
      type = AT.GRAPH;
      w.fork();
      encodeGraph(w, attr.value, external);
      w.join(AF.g);
      break;
    // Unpacked, as onnx's own serializer writes these proto2 fields.
    case 'floats':
      type = AT.FLOATS;
      for (const v of attr.value) w.tag(AF.floats, WireType.I32).float(v);
      break;
    case 'ints':
      type = AT.INTS;
      for (const v of attr.value) w.tag(AF.ints, WireType.VARINT).int64(v);
      break;
    case 'strings':
      type = AT.STRINGS;
      for (const v of attr.value) w.tag(AF.strings, WireType.LEN).string(v);
      break;
    case 'tensors':
      type = AT.TENSORS;
      for (const t of attr.value) {
        w.fork();
        encodeTensor(w, t, external.get(t));
        w.join(AF.tensors);
      }
      break;
    case 'graphs':
      type = AT.GRAPHS;
      for (const sub of attr.value) {
        w.fork();
        encodeGraph(w, sub, external);
        w.join(AF.graphs);
      }
      break;
    default:
      throw new TypeError(`attribute '${name}' has unknown type ${(attr as { type: unknown }).type}`);
  }
  w.tag(AF.type, WireType.VARINT).int32(type);
}

/** Thrown when a tensor's data does not match its type or dims; write.ts reports it as a UserError. */
export class TensorDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TensorDataError';
  }
}

/** The little-endian bytes a tensor's data is stored as (raw_data or external data). */
export function tensorBytes(t: Tensor): Uint8Array {
  checkTensorData(t);
  if (Array.isArray(t.data)) throw new TensorDataError(`tensor '${t.name}' is a STRING tensor and has no raw bytes`);
  return littleEndianBytes(t.data);
}

function checkTensorData(t: Tensor): void {
  const info = dataTypeInfo(t.dataType);
  if (info === undefined) {
    throw new TensorDataError(`tensor '${t.name}' has data type ${dataTypeName(t.dataType)}, which cannot be written`);
  }
  const count = t.dims.reduce((a, b) => a * b, 1);
  if (t.data.length !== count) {
    const hint =
      t.external !== undefined && t.data.length === 0
        ? ' (its external data was not loaded: read the model with loadExternalData: true)'
        : '';
    throw new TensorDataError(
      `tensor '${t.name}' holds ${plural(t.data.length, 'value')} but its dims [${t.dims.join(', ')}] ` +
        `need ${count}${hint}`,
    );
  }
  const ok = info.array === undefined ? Array.isArray(t.data) : t.data instanceof info.array;
  if (!ok) {
    throw new TensorDataError(
      `tensor '${t.name}' of type ${info.name} holds a ${t.data.constructor.name}; ` +
        `expected ${info.array === undefined ? 'string[]' : info.array.name}`,
    );
  }
}

function encodeTensor(w: WireWriter, t: Tensor, external: ExternalDataRef | undefined): void {
  // A tensor written as a reference needs no data in memory (it may have been read with loadExternalData off).
  if (external === undefined) checkTensorData(t);
  else if (dataTypeInfo(t.dataType) === undefined || t.dataType === DataType.STRING) {
    throw new TensorDataError(
      `tensor '${t.name}' of type ${dataTypeName(t.dataType)} cannot be stored as external data`,
    );
  }
  for (const d of t.dims) w.tag(TF.dims, WireType.VARINT).int64(d);
  w.tag(TF.dataType, WireType.VARINT).int32(t.dataType);
  if (Array.isArray(t.data) && external === undefined) {
    for (const s of t.data) w.tag(TF.stringData, WireType.LEN).string(s);
  }
  optionalString(w, TF.name, t.name);
  if (!Array.isArray(t.data) && external === undefined) w.tag(TF.rawData, WireType.LEN).bytes(tensorBytes(t));
  optionalString(w, TF.docString, t.docString);
  if (external !== undefined) {
    encodeEntry(w, TF.externalData, 'location', external.location);
    encodeEntry(w, TF.externalData, 'offset', String(external.offset));
    encodeEntry(w, TF.externalData, 'length', String(external.length));
    if (external.checksum !== undefined) encodeEntry(w, TF.externalData, 'checksum', external.checksum);
    w.tag(TF.dataLocation, WireType.VARINT).int32(DataLocation.EXTERNAL);
  }
}

function encodeValueInfo(w: WireWriter, field: number, vi: ValueInfo): void {
  w.fork();
  w.tag(VF.name, WireType.LEN).string(vi.name);
  if (vi.elemType !== 0 || vi.shape !== undefined) {
    w.fork();
    w.fork();
    if (vi.elemType !== 0) w.tag(TensorTypeField.elemType, WireType.VARINT).int32(vi.elemType);
    if (vi.shape !== undefined) {
      w.fork();
      for (const dim of vi.shape) {
        w.fork();
        if (typeof dim === 'number') w.tag(DimensionField.dimValue, WireType.VARINT).int64(dim);
        else if (typeof dim === 'string') w.tag(DimensionField.dimParam, WireType.LEN).string(dim);
        w.join(ShapeField.dim);
      }
      w.join(TensorTypeField.shape);
    }
    w.join(TypeField.tensorType);
    w.join(VF.type);
  }
  optionalString(w, VF.docString, vi.docString);
  w.join(field);
}
