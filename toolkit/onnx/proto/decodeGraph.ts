/**
 * GraphProto, NodeProto and AttributeProto → IR. They live together because they nest both ways: a node holds
 * attributes, and an attribute may hold graphs.
 */
import type { Attribute, Graph, Node, Tensor } from '../ir.js';
import { AttributeField as AF, AttributeType as AT, GraphField as GF, NodeField as NF } from '../schema.js';
import { type WireReader, WireType } from '../wire.js';
import { type DecodeContext, setDoc } from './decodeContext.js';
import { decodeTensor } from './decodeTensor.js';
import { decodeValueInfo } from './decodeValueInfo.js';
import { SchemaError } from './errors.js';

export function emptyGraph(): Graph {
  return { name: '', nodes: [], initializers: [], inputs: [], outputs: [], valueInfo: [] };
}

export function decodeGraph(r: WireReader, ctx: DecodeContext): Graph {
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

/** Every value field of one AttributeProto as read, before its type says which one counts. */
interface AttributeFields {
  name: string;
  type: number;
  f?: number;
  i?: number | bigint;
  s?: string;
  t?: Tensor;
  g?: Graph;
  floats: number[];
  ints: (number | bigint)[];
  strings: string[];
  tensors: Tensor[];
  graphs: Graph[];
  /** Why the attribute cannot be represented, if it cannot. */
  unsupported?: string;
}

function decodeAttribute(r: WireReader, ctx: DecodeContext): [string, Attribute] {
  const fields = readAttributeFields(r, ctx);
  const { name } = fields;
  if (fields.unsupported !== undefined) {
    throw new SchemaError(`attribute '${name}' ${fields.unsupported}, which effnet-edge does not support`);
  }
  // IR version 1 had no type field: infer it from the value present.
  const type = fields.type === AT.UNDEFINED ? inferredAttributeType(fields) : fields.type;
  return [name, attributeOfType(fields, type)];
}

function readAttributeFields(r: WireReader, ctx: DecodeContext): AttributeFields {
  const a: AttributeFields = {
    name: '',
    type: AT.UNDEFINED,
    floats: [],
    ints: [],
    strings: [],
    tensors: [],
    graphs: [],
  };
  while (!r.done()) {
    const tag = r.tag();
    const wt = tag & 7;
    switch (tag >>> 3) {
      case AF.name:
        r.expect(wt, WireType.LEN);
        a.name = r.string();
        break;
      case AF.f:
        r.expect(wt, WireType.I32);
        a.f = r.float();
        break;
      case AF.i:
        r.expect(wt, WireType.VARINT);
        a.i = r.int64();
        break;
      case AF.s:
        r.expect(wt, WireType.LEN);
        a.s = r.string();
        break;
      case AF.t:
        r.expect(wt, WireType.LEN);
        a.t = decodeTensor(r.child(), ctx);
        break;
      case AF.g:
        r.expect(wt, WireType.LEN);
        a.g = decodeGraph(r.child(), ctx);
        break;
      case AF.floats:
        r.repeatedFloat(wt, a.floats);
        break;
      case AF.ints:
        r.repeatedVarint(wt, (x) => x.int64(), a.ints);
        break;
      case AF.strings:
        r.expect(wt, WireType.LEN);
        a.strings.push(r.string());
        break;
      case AF.tensors:
        r.expect(wt, WireType.LEN);
        a.tensors.push(decodeTensor(r.child(), ctx));
        break;
      case AF.graphs:
        r.expect(wt, WireType.LEN);
        a.graphs.push(decodeGraph(r.child(), ctx));
        break;
      case AF.docString:
        r.skip(wt);
        ctx.skip('attribute doc_string');
        break;
      case AF.type:
        r.expect(wt, WireType.VARINT);
        a.type = r.int32();
        break;
      case AF.refAttrName:
        r.skip(wt);
        a.unsupported = 'refers to a function attribute (ref_attr_name)';
        break;
      case AF.sparseTensor:
      case AF.sparseTensors:
        r.skip(wt);
        a.unsupported = 'holds a sparse tensor';
        break;
      case AF.tp:
      case AF.typeProtos:
        r.skip(wt);
        a.unsupported = 'holds a type';
        break;
      default:
        ctx.skip(`AttributeProto field ${tag >>> 3}`);
        r.skip(wt);
    }
  }
  return a;
}

/** For untyped (IR version 1) attributes: the first kind of value present, in this order, gives the type. */
const TYPE_BY_VALUE_PRESENT: readonly [number, (a: AttributeFields) => boolean][] = [
  [AT.FLOAT, (a) => a.f !== undefined],
  [AT.INT, (a) => a.i !== undefined],
  [AT.STRING, (a) => a.s !== undefined],
  [AT.TENSOR, (a) => a.t !== undefined],
  [AT.GRAPH, (a) => a.g !== undefined],
  [AT.FLOATS, (a) => a.floats.length > 0],
  [AT.INTS, (a) => a.ints.length > 0],
  [AT.STRINGS, (a) => a.strings.length > 0],
  [AT.TENSORS, (a) => a.tensors.length > 0],
  [AT.GRAPHS, (a) => a.graphs.length > 0],
];

function inferredAttributeType(a: AttributeFields): number {
  return TYPE_BY_VALUE_PRESENT.find(([, present]) => present(a))?.[0] ?? AT.UNDEFINED;
}

function attributeOfType(a: AttributeFields, type: number): Attribute {
  const missing = (): never => {
    throw new SchemaError(`attribute '${a.name}' declares type ${type} but holds no value of that type`);
  };
  switch (type) {
    case AT.FLOAT:
      return { type: 'float', value: a.f ?? 0 };
    case AT.INT:
      return { type: 'int', value: a.i ?? 0 };
    case AT.STRING:
      return { type: 'string', value: a.s ?? '' };
    case AT.TENSOR:
      return { type: 'tensor', value: a.t ?? missing() };
    case AT.GRAPH:
      return { type: 'graph', value: a.g ?? missing() };
    case AT.FLOATS:
      return { type: 'floats', value: a.floats };
    case AT.INTS:
      return { type: 'ints', value: a.ints };
    case AT.STRINGS:
      return { type: 'strings', value: a.strings };
    case AT.TENSORS:
      return { type: 'tensors', value: a.tensors };
    case AT.GRAPHS:
      return { type: 'graphs', value: a.graphs };
    default:
      throw new SchemaError(`attribute '${a.name}' has type ${type}, which effnet-edge does not support`);
  }
}
