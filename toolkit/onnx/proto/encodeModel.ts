/**
 * Model → ModelProto, deterministically: fields in field-number order, attributes sorted by name, tensor data as
 * raw_data. Graphs and attributes live together because they nest both ways.
 */
import type { Attribute, ExternalDataRef, Graph, Model, Node, Tensor, ValueInfo } from '../ir.js';
import {
  AttributeField as AF,
  AttributeType as AT,
  DimensionField,
  GraphField as GF,
  ModelField as MF,
  NodeField as NF,
  OperatorSetIdField,
  ShapeField,
  TensorTypeField,
  TypeField,
  ValueInfoField as VF,
} from '../schema.js';
import { WireType, WireWriter } from '../wire.js';
import { compareStrings, encodeEntry, optionalString } from './encodeFields.js';
import { encodeTensor } from './encodeTensor.js';

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
