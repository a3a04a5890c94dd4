/**
 * Protobuf wire format: a bounds-checked reader and a chunk-list writer. Knows nothing about ONNX.
 *
 * The reader never throws anything but WireError, so callers can turn every decoding failure into one
 * user-facing message. The writer never copies a large payload more than once: big byte fields are kept as
 * references and only copied when the caller asks for one contiguous buffer (or streams the chunks to a file).
 * The work is done in wire/ (shared format, reader, writer); this is what the rest of the toolkit imports.
 */
export { HOST_IS_LITTLE_ENDIAN, littleEndianBytes, WireError, WireType, type WireTypeCode } from './wire/format.js';
export { WireReader } from './wire/reader.js';
export { WireWriter } from './wire/writer.js';
