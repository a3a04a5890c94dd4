// What the shim reports about its surroundings: TensorRT's versions, the CUDA device, and a loaded engine's layers
// (the engine inspector, 8.2+).
#include "internal.h"

namespace effnet_trt_internal {

namespace {

// Loaded-library versions are encoded differently by major version (NvInferRuntimeBase.h):
// 8.x: major*1000 + minor*100 + patch (8601); 10.x: (major*100 + minor)*100 + patch (100300).
effnet_trt_version decodeVersion(int32_t encoded) {
  effnet_trt_version version{};
  if (encoded >= 10000) {
    version.major = encoded / 10000;
    version.minor = (encoded / 100) % 100;
  } else {
    version.major = encoded / 1000;
    version.minor = (encoded / 100) % 10;
  }
  version.patch = encoded % 100;
  version.encoded = encoded;
  return version;
}

}  // namespace

effnet_trt_version compiledVersion() {
  return effnet_trt_version{NV_TENSORRT_MAJOR, NV_TENSORRT_MINOR, NV_TENSORRT_PATCH, static_cast<int32_t>(NV_TENSORRT_VERSION)};
}

effnet_trt_version loadedVersion() { return decodeVersion(getInferLibVersion()); }

void describeDevice(effnet_trt_device &device) {
  device = effnet_trt_device{};
  int index = 0;
  checkCuda(cudaGetDevice(&index), "cudaGetDevice");
  cudaDeviceProp properties{};
  checkCuda(cudaGetDeviceProperties(&properties, index), "cudaGetDeviceProperties");
  copyText(device.name, sizeof device.name, properties.name);
  device.sm_major = properties.major;
  device.sm_minor = properties.minor;
  device.memory_bytes = static_cast<int64_t>(properties.totalGlobalMem);
  Capture capture;
  TrtPtr<nvinfer1::IRuntime> runtime(nvinfer1::createInferRuntime(processLogger()));
  if (!runtime) fail(EFFNET_TRT_RUNTIME_ERROR, withErrors("createInferRuntime returned NULL", capture));
  device.dla_cores = runtime->getNbDLACores();
}

std::string engineInformation(const effnet_trt_engine &e) {
#if !EFFNET_TRT_HAS_INSPECTOR
  (void)e;
  fail(EFFNET_TRT_UNSUPPORTED, "TensorRT " + std::to_string(NV_TENSORRT_MAJOR) + "." + std::to_string(NV_TENSORRT_MINOR) +
                                   " has no engine inspector (8.2+); the fusion report needs one");
#else
  // The inspector reads the context's current shapes, which effnet_trt_infer changes.
  std::lock_guard<std::mutex> lock(e.mutex);
  Capture capture;
  TrtPtr<nvinfer1::IEngineInspector> inspector(e.engine->createEngineInspector());
  if (!inspector) fail(EFFNET_TRT_RUNTIME_ERROR, withErrors("createEngineInspector returned NULL", capture));
  if (!inspector->setExecutionContext(e.context.get())) {
    fail(EFFNET_TRT_RUNTIME_ERROR, withErrors("IEngineInspector::setExecutionContext failed", capture));
  }
  const char *information = inspector->getEngineInformation(nvinfer1::LayerInformationFormat::kJSON);
  if (information == nullptr) fail(EFFNET_TRT_RUNTIME_ERROR, withErrors("getEngineInformation returned NULL", capture));
  return information;
#endif
}

}  // namespace effnet_trt_internal
