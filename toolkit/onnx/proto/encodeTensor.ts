/** Tensor → TensorProto: data checked against type and dims, written as raw_data or as an external reference. */
import { dataTypeInfo, dataTypeName } from '../dtypes.js';
import type { ExternalDataRef, Tensor } from '../ir.js';
import { DataType } from '../ir.js';
import { DataLocation, TensorField as TF } from '../schema.js';
import { littleEndianBytes, WireType, type WireWriter } from '../wire.js';
import { encodeEntry, optionalString } from './encodeFields.js';
import { plural, TensorDataError } from './errors.js';

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

export function encodeTensor(w: WireWriter, t: Tensor, external: ExternalDataRef | undefined): void {
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
