// Tensor types and shapes, and the engine's IO tensors through whichever API this TensorRT has: binding indices
// before 8.5, tensor names from 8.5 (the only way from 10.0).
#include "internal.h"

namespace effnet_trt_internal {

effnet_trt_dtype shimType(DataType type) {
  switch (type) {
    case DataType::kFLOAT: return EFFNET_TRT_DTYPE_FLOAT;
    case DataType::kHALF: return EFFNET_TRT_DTYPE_HALF;
    case DataType::kINT8: return EFFNET_TRT_DTYPE_INT8;
    case DataType::kINT32: return EFFNET_TRT_DTYPE_INT32;
    default: return EFFNET_TRT_DTYPE_OTHER;
  }
}

size_t typeBits(DataType type) {
  switch (type) {
    case DataType::kFLOAT: return 32;
    case DataType::kHALF: return 16;
    case DataType::kINT8: return 8;
    case DataType::kINT32: return 32;
    case DataType::kBOOL: return 8;
#if EFFNET_TRT_AT_LEAST(8, 5)
    case DataType::kUINT8: return 8;
#endif
#if EFFNET_TRT_AT_LEAST(8, 6)
    case DataType::kFP8: return 8;
#endif
#if NV_TENSORRT_MAJOR >= 10
    case DataType::kBF16: return 16;
    case DataType::kINT64: return 64;
    case DataType::kINT4: return 4;
#endif
    default: return 0;
  }
}

std::string dimsText(const nvinfer1::Dims &dims) {
  std::string text = "[";
  for (int32_t i = 0; i < dims.nbDims; ++i) {
    if (i > 0) text += ",";
    text += std::to_string(static_cast<long long>(dims.d[i]));
  }
  return text + "]";
}

long long volume(const nvinfer1::Dims &dims) {
  if (dims.nbDims < 0) return -1;
  long long count = 1;
  for (int32_t i = 0; i < dims.nbDims; ++i) {
    if (dims.d[i] < 0) return -1;
    count *= static_cast<long long>(dims.d[i]);
  }
  return count;
}

std::vector<Tensor> ioTensorsOf(const nvinfer1::ICudaEngine &engine) {
  std::vector<Tensor> tensors;
#if EFFNET_TRT_HAS_NAMED_IO
  const int32_t count = engine.getNbIOTensors();
  for (int32_t i = 0; i < count; ++i) {
    Tensor tensor;
    const char *name = engine.getIOTensorName(i);
    if (name == nullptr) fail(EFFNET_TRT_RUNTIME_ERROR, "getIOTensorName(" + std::to_string(i) + ") returned NULL");
    tensor.name = name;
    tensor.index = i;
    tensor.isInput = engine.getTensorIOMode(name) == nvinfer1::TensorIOMode::kINPUT;
    tensor.type = engine.getTensorDataType(name);
    tensor.shape = engine.getTensorShape(name);
    tensors.push_back(std::move(tensor));
  }
#else
  // One optimisation profile, so the bindings are exactly the IO tensors.
  const int32_t count = engine.getNbBindings();
  for (int32_t i = 0; i < count; ++i) {
    Tensor tensor;
    const char *name = engine.getBindingName(i);
    if (name == nullptr) fail(EFFNET_TRT_RUNTIME_ERROR, "getBindingName(" + std::to_string(i) + ") returned NULL");
    tensor.name = name;
    tensor.index = i;
    tensor.isInput = engine.bindingIsInput(i);
    tensor.type = engine.getBindingDataType(i);
    tensor.shape = engine.getBindingDimensions(i);
    tensors.push_back(std::move(tensor));
  }
#endif
  return tensors;
}

bool setInputShape(nvinfer1::IExecutionContext &context, const Tensor &input, const nvinfer1::Dims &shape) {
#if EFFNET_TRT_HAS_NAMED_IO
  return context.setInputShape(input.name.c_str(), shape);
#else
  return context.setBindingDimensions(input.index, shape);
#endif
}

nvinfer1::Dims contextShape(const nvinfer1::IExecutionContext &context, const Tensor &tensor) {
#if EFFNET_TRT_HAS_NAMED_IO
  return context.getTensorShape(tensor.name.c_str());
#else
  return context.getBindingDimensions(tensor.index);
#endif
}

}  // namespace effnet_trt_internal
