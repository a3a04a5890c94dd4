/** The ONNX layer's public API: IR types, loaders, writers, graph helpers and shape inference. */
export * from './ir.js';
export { modelFromBytes, modelFromFile, SUPPORTED_IR_VERSIONS, SUPPORTED_OPSETS } from './read.js';
export type { ModelFromBytesOptions, ModelFromFileOptions } from './read.js';
export {
  bytesFromModel, writeModelFile, DEFAULT_EXTERNAL_SIZE_THRESHOLD, EXTERNAL_DATA_ALIGNMENT,
} from './write.js';
export type { ExternalDataOptions, WriteModelFileOptions } from './write.js';
export {
  consumerMap, danglingInputs, elementCount, initializerMap, makeNode, makeTensor, makeValueInfo, producerMap,
  topologicalOrder,
} from './graph.js';
export { inferShapes, shapeOf, valueInfoMap } from './shapes.js';
export { dataTypeInfo, dataTypeName } from './dtypes.js';
