/** ModelProto → Model: the entry point of decoding. */
import type { Model, OpsetImport, Tensor } from '../ir.js';
import { ModelField as MF, OperatorSetIdField } from '../schema.js';
import { WireReader, WireType } from '../wire.js';
import { DecodeContext, decodeEntry } from './decodeContext.js';
import { decodeGraph, emptyGraph } from './decodeGraph.js';

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
