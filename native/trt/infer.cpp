// effnet_trt_infer's steps: find the float input and output, set the batch, size and bind the device buffers, copy
// in, enqueue (enqueueV2 with bindings before 8.5, enqueueV3 with tensor addresses from 8.5), copy out.
#include "internal.h"

namespace effnet_trt_internal {

namespace {

struct FloatIo {
  size_t input;
  size_t output;
};

// The one input and the first output, both float32.
FloatIo floatIoOf(const effnet_trt_engine &e) {
  size_t inputIndex = e.tensors.size();
  size_t outputIndex = e.tensors.size();
  size_t inputs = 0;
  for (size_t i = 0; i < e.tensors.size(); ++i) {
    if (e.tensors[i].isInput) {
      ++inputs;
      inputIndex = i;
    } else if (outputIndex == e.tensors.size()) {
      outputIndex = i;
    }
  }
  if (inputs != 1) fail(EFFNET_TRT_UNSUPPORTED, "the engine has " + std::to_string(inputs) + " inputs; effnet_trt_infer needs exactly 1");
  if (outputIndex == e.tensors.size()) fail(EFFNET_TRT_UNSUPPORTED, "the engine has no output");
  const Tensor &in = e.tensors[inputIndex];
  const Tensor &out = e.tensors[outputIndex];
  if (in.type != DataType::kFLOAT || out.type != DataType::kFLOAT) {
    fail(EFFNET_TRT_UNSUPPORTED, "input '" + in.name + "' and output '" + out.name + "' must be float32 (rebuild from a float-IO ONNX)");
  }
  return FloatIo{inputIndex, outputIndex};
}

// The input's shape with its batch dimension set to `batch`; only the batch may be dynamic.
nvinfer1::Dims inputShapeFor(const Tensor &in, int32_t batch) {
  nvinfer1::Dims shape = in.shape;
  if (shape.nbDims < 1) fail(EFFNET_TRT_UNSUPPORTED, "input '" + in.name + "' has no batch dimension: " + dimsText(shape));
  if (shape.d[0] == -1) {
    shape.d[0] = static_cast<DimValue>(batch);
  } else if (shape.d[0] != batch) {
    fail(EFFNET_TRT_INVALID_ARGUMENT, "batch is " + std::to_string(batch) + " but the engine's input '" + in.name + "' has fixed shape " +
                                          dimsText(in.shape));
  }
  const long long inputCount = volume(shape);
  if (inputCount < 0) fail(EFFNET_TRT_UNSUPPORTED, "input '" + in.name + "' has dynamic dimensions besides the batch: " + dimsText(in.shape));
  return shape;
}

// Bytes per IO tensor. Output shapes are only known once the input shape is set.
std::vector<size_t> tensorBytes(const effnet_trt_engine &e, size_t inputIndex, const nvinfer1::Dims &inputShape) {
  std::vector<size_t> bytes(e.tensors.size());
  for (size_t i = 0; i < e.tensors.size(); ++i) {
    const Tensor &t = e.tensors[i];
    const nvinfer1::Dims dims = i == inputIndex ? inputShape : contextShape(*e.context, t);
    const long long count = volume(dims);
    const size_t bits = typeBits(t.type);
    if (count < 0 || bits == 0) {
      fail(EFFNET_TRT_UNSUPPORTED, "cannot size tensor '" + t.name + "' (shape " + dimsText(dims) + ", data-dependent or of an unknown type)");
    }
    bytes[i] = (static_cast<size_t>(count) * bits + 7) / 8;
  }
  return bytes;
}

// A device buffer per IO tensor, in TensorRT's order (which is the binding order before 8.5), each also given to
// the context by name from 8.5.
std::vector<void *> bindBuffers(effnet_trt_engine &e, const std::vector<size_t> &bytes, const Capture &capture) {
  std::vector<void *> bindings(e.tensors.size());
  for (size_t i = 0; i < e.tensors.size(); ++i) {
    bindings[i] = e.deviceBuffer(i, bytes[i]);
#if EFFNET_TRT_HAS_NAMED_IO
    if (!e.context->setTensorAddress(e.tensors[i].name.c_str(), bindings[i])) {
      fail(EFFNET_TRT_RUNTIME_ERROR, withErrors("setTensorAddress('" + e.tensors[i].name + "') failed", capture));
    }
#else
    (void)capture;
#endif
  }
  return bindings;
}

void enqueue(effnet_trt_engine &e, const std::vector<void *> &bindings, const Capture &capture) {
#if EFFNET_TRT_HAS_NAMED_IO
  (void)bindings;
  const bool enqueued = e.context->enqueueV3(e.stream);
  const char *call = "enqueueV3";
#else
  // ioTensorsOf keeps binding order, so the buffers are already indexed by binding.
  const bool enqueued = e.context->enqueueV2(bindings.data(), e.stream, nullptr);
  const char *call = "enqueueV2";
#endif
  if (!enqueued) {
    // Drain what was queued so the buffers are not reused while a copy is in flight.
    cudaStreamSynchronize(e.stream);
    fail(EFFNET_TRT_RUNTIME_ERROR, withErrors(std::string(call) + " failed", capture));
  }
}

}  // namespace

void infer(effnet_trt_engine &e, const float *input, int32_t batch, float *output, size_t outputCount) {
  std::lock_guard<std::mutex> lock(e.mutex);
  Capture capture;

  const FloatIo io = floatIoOf(e);
  const Tensor &in = e.tensors[io.input];
  const Tensor &out = e.tensors[io.output];
  const nvinfer1::Dims shape = inputShapeFor(in, batch);
  if (!setInputShape(*e.context, in, shape)) {
    fail(EFFNET_TRT_INVALID_ARGUMENT,
         withErrors("batch " + std::to_string(batch) + " is outside the engine's optimization profile (shape " + dimsText(shape) + ")", capture));
  }

  const std::vector<size_t> bytes = tensorBytes(e, io.input, shape);
  const size_t outputFloats = bytes[io.output] / sizeof(float);
  if (outputFloats > outputCount) {
    fail(EFFNET_TRT_INVALID_ARGUMENT, "output_count is " + std::to_string(outputCount) + " but output '" + out.name + "' has " +
                                          std::to_string(outputFloats) + " floats for batch " + std::to_string(batch));
  }

  const std::vector<void *> bindings = bindBuffers(e, bytes, capture);
  checkCuda(cudaMemcpyAsync(e.buffers[io.input].pointer, input, bytes[io.input], cudaMemcpyHostToDevice, e.stream),
            "cudaMemcpyAsync (input)");
  enqueue(e, bindings, capture);
  checkCuda(cudaMemcpyAsync(output, e.buffers[io.output].pointer, bytes[io.output], cudaMemcpyDeviceToHost, e.stream),
            "cudaMemcpyAsync (output)");
  checkCuda(cudaStreamSynchronize(e.stream), "cudaStreamSynchronize");
}

}  // namespace effnet_trt_internal
