// effnet_trt_load's steps: plan file → runtime (on the chosen DLA core) → engine → execution context and stream.
#include "internal.h"

namespace effnet_trt_internal {

std::unique_ptr<effnet_trt_engine> engineFromPlanFile(const char *enginePath, int32_t dlaCore) {
  Capture capture;
  const std::vector<char> plan = readFile(enginePath, "engine");
  if (plan.empty()) fail(EFFNET_TRT_FILE_ERROR, std::string("engine '") + enginePath + "' is empty");

  std::unique_ptr<effnet_trt_engine> handle(new effnet_trt_engine());
  handle->runtime.reset(nvinfer1::createInferRuntime(processLogger()));
  if (!handle->runtime) fail(EFFNET_TRT_RUNTIME_ERROR, withErrors("createInferRuntime returned NULL", capture));
  if (dlaCore >= 0) {
    const int32_t cores = handle->runtime->getNbDLACores();
    if (dlaCore >= cores) {
      fail(EFFNET_TRT_UNSUPPORTED, "dla_core is " + std::to_string(dlaCore) + " but this device has " + std::to_string(cores) +
                                       " DLA core" + (cores == 1 ? "" : "s"));
    }
    handle->runtime->setDLACore(dlaCore);
  }
  handle->engine.reset(handle->runtime->deserializeCudaEngine(plan.data(), plan.size()));
  if (!handle->engine) {
    fail(EFFNET_TRT_RUNTIME_ERROR,
         withErrors(std::string("cannot deserialize '") + enginePath + "' (built by another TensorRT release or for another GPU?)", capture));
  }
  handle->context.reset(handle->engine->createExecutionContext());
  if (!handle->context) fail(EFFNET_TRT_RUNTIME_ERROR, withErrors("createExecutionContext returned NULL", capture));
  checkCuda(cudaStreamCreate(&handle->stream), "cudaStreamCreate");

  handle->tensors = ioTensorsOf(*handle->engine);
  handle->buffers.resize(handle->tensors.size());
  return handle;
}

}  // namespace effnet_trt_internal
