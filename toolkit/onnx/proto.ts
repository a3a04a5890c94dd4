/**
 * ONNX protobuf messages ⇄ IR. Decoding throws WireError for broken protobuf and SchemaError for valid
 * protobuf that is not a model we can represent; read.ts turns both into one-line FileFormatErrors.
 * Encoding is deterministic: fields in field-number order, attributes sorted by name, tensor data as raw_data.
 * The work is done in proto/, one message family per file; this is what the rest of the toolkit imports.
 */
export { type DecodedModel, decodeModel } from './proto/decodeModel.js';
export { compareStrings } from './proto/encodeFields.js';
export { type EncodeOptions, encodeModel } from './proto/encodeModel.js';
export { tensorBytes } from './proto/encodeTensor.js';
export { SchemaError, TensorDataError } from './proto/errors.js';
export { typedFromLittleEndian, typedFromOwnedBytes } from './proto/typedFromBytes.js';
