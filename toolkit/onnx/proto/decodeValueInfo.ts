/** ValueInfoProto → ValueInfo: a name, an element type and a shape; other value types are skipped. */
import type { Dim, ValueInfo } from '../ir.js';
import { DimensionField, ShapeField, TensorTypeField, TypeField, ValueInfoField as VF } from '../schema.js';
import { type WireReader, WireType } from '../wire.js';
import { type DecodeContext, setDoc } from './decodeContext.js';

export function decodeValueInfo(r: WireReader, ctx: DecodeContext): ValueInfo {
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
