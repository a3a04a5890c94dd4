// effnet_trt: the C ABI of effnet_trt.h over TensorRT 8.0 … 11.x.
//
// This file is the boundary: each entry point checks its arguments, calls the step that does the work
// (native/trt/, declared in trt/internal.h) and turns any failure into a status and a message. What differs between
// TensorRT releases is listed in trt/compat.h and decided there at compile time.
#include "trt/internal.h"

#include <cstring>
#include <exception>
#include <new>

// native/CMakeLists.txt reads NvInferVersion.h and skips the shim below 8.0 with a message; this is the backstop.
#if !EFFNET_TRT_AT_LEAST(8, 0)
#error "effnet_trt needs TensorRT 8.0 or newer"
#endif

namespace {

using namespace effnet_trt_internal;

// Wraps every ABI entry point: nothing C++ may unwind into koffi, and every failure leaves a message behind.
template <typename Body>
effnet_trt_status guarded(const char *function, char *error, size_t error_size, Body &&body) noexcept {
  try {
    clearText(error, error_size);
    return body();
  } catch (const Failure &failure) {
    try {
      copyText(error, error_size, std::string(function) + ": " + failure.message);
    } catch (...) {
      copyText(error, error_size, "effnet_trt: out of memory while formatting an error");
    }
    return failure.status;
  } catch (const std::bad_alloc &) {
    copyText(error, error_size, std::string(function) + ": out of host memory");
    return EFFNET_TRT_RUNTIME_ERROR;
  } catch (const std::exception &e) {
    try {
      copyText(error, error_size, std::string(function) + ": internal error: " + e.what());
    } catch (...) {
      copyText(error, error_size, "effnet_trt: internal error");
    }
    return EFFNET_TRT_RUNTIME_ERROR;
  } catch (...) {
    copyText(error, error_size, "effnet_trt: unknown internal error");
    return EFFNET_TRT_RUNTIME_ERROR;
  }
}

const effnet_trt_engine &requireEngine(const effnet_trt_engine *engine) {
  requireArg(engine, "engine");
  return *engine;
}

// The log matters most when the build fails, so it is copied out however the build ends.
struct CopyLogOnExit {
  const Capture &capture;
  char *log;
  size_t size;
  ~CopyLogOnExit() { copyText(log, size, capture.all()); }
};

}  // namespace

extern "C" {

int32_t effnet_trt_abi_version(void) { return EFFNET_TRT_ABI_VERSION; }

effnet_trt_status effnet_trt_versions(effnet_trt_version *compiled, effnet_trt_version *loaded, char *error, size_t error_size) {
  return guarded("effnet_trt_versions", error, error_size, [&] {
    requireArg(compiled, "compiled");
    requireArg(loaded, "loaded");
    *compiled = compiledVersion();
    *loaded = loadedVersion();
    return EFFNET_TRT_OK;
  });
}

effnet_trt_status effnet_trt_device_info(effnet_trt_device *device, char *error, size_t error_size) {
  return guarded("effnet_trt_device_info", error, error_size, [&] {
    requireArg(device, "device");
    describeDevice(*device);
    return EFFNET_TRT_OK;
  });
}

effnet_trt_status effnet_trt_build(const char *onnx_path, const char *engine_path, const effnet_trt_build_options *options,
                                   char *log, size_t log_size, char *error, size_t error_size) {
  clearText(log, log_size);
  return guarded("effnet_trt_build", error, error_size, [&] {
    requireArg(onnx_path, "onnx_path");
    requireArg(engine_path, "engine_path");
    requireArg(options, "options");
    validateBuildOptions(*options);
    Capture capture;
    const CopyLogOnExit copyLog{capture, log, log_size};
    buildEngineFile(onnx_path, engine_path, *options, capture);
    return EFFNET_TRT_OK;
  });
}

effnet_trt_status effnet_trt_load(const char *engine_path, int32_t dla_core, effnet_trt_engine **engine, char *error, size_t error_size) {
  return guarded("effnet_trt_load", error, error_size, [&] {
    requireArg(engine_path, "engine_path");
    requireArg(engine, "engine");
    *engine = nullptr;
    if (dla_core < -1) {
      fail(EFFNET_TRT_INVALID_ARGUMENT, "dla_core is " + std::to_string(dla_core) + "; expected -1 (GPU) or a DLA core index");
    }
    *engine = engineFromPlanFile(engine_path, dla_core).release();
    return EFFNET_TRT_OK;
  });
}

effnet_trt_status effnet_trt_io_count(const effnet_trt_engine *engine, int32_t *count, char *error, size_t error_size) {
  return guarded("effnet_trt_io_count", error, error_size, [&] {
    const effnet_trt_engine &e = requireEngine(engine);
    requireArg(count, "count");
    *count = static_cast<int32_t>(e.tensors.size());
    return EFFNET_TRT_OK;
  });
}

effnet_trt_status effnet_trt_io_info(const effnet_trt_engine *engine, int32_t index, effnet_trt_tensor_info *info, char *error,
                                     size_t error_size) {
  return guarded("effnet_trt_io_info", error, error_size, [&] {
    const effnet_trt_engine &e = requireEngine(engine);
    requireArg(info, "info");
    const int32_t count = static_cast<int32_t>(e.tensors.size());
    if (index < 0 || index >= count) {
      fail(EFFNET_TRT_INVALID_ARGUMENT, "index is " + std::to_string(index) + "; expected 0.." + std::to_string(count - 1));
    }
    const Tensor &tensor = e.tensors[static_cast<size_t>(index)];
    // A truncated name would silently match the wrong tensor on the caller's side.
    if (tensor.name.size() >= sizeof info->name) {
      fail(EFFNET_TRT_UNSUPPORTED, "tensor " + std::to_string(index) + " has a " + std::to_string(tensor.name.size()) +
                                       "-byte name; effnet_trt_tensor_info holds " + std::to_string(sizeof info->name - 1));
    }
    effnet_trt_tensor_info out{};
    std::memcpy(out.name, tensor.name.c_str(), tensor.name.size() + 1);
    out.is_input = tensor.isInput ? 1 : 0;
    out.dtype = shimType(tensor.type);
    out.nb_dims = tensor.shape.nbDims;
    for (int32_t d = 0; d < tensor.shape.nbDims && d < EFFNET_TRT_MAX_DIMS; ++d) out.dims[d] = static_cast<int64_t>(tensor.shape.d[d]);
    *info = out;
    return EFFNET_TRT_OK;
  });
}

effnet_trt_status effnet_trt_infer(effnet_trt_engine *engine, const float *input, int32_t batch, float *output, size_t output_count,
                                   char *error, size_t error_size) {
  return guarded("effnet_trt_infer", error, error_size, [&] {
    requireArg(engine, "engine");
    requireArg(input, "input");
    requireArg(output, "output");
    if (batch < 1) fail(EFFNET_TRT_INVALID_ARGUMENT, "batch is " + std::to_string(batch) + "; expected at least 1");
    infer(*engine, input, batch, output, output_count);
    return EFFNET_TRT_OK;
  });
}

effnet_trt_status effnet_trt_inspect(const effnet_trt_engine *engine, char *json, size_t json_size, size_t *needed, char *error,
                                     size_t error_size) {
  return guarded("effnet_trt_inspect", error, error_size, [&] {
    const effnet_trt_engine &e = requireEngine(engine);
    requireArg(needed, "needed");
    *needed = 0;
    const std::string information = engineInformation(e);
    const size_t size = information.size() + 1;
    *needed = size;
    // A NULL buffer is the caller asking for the size first.
    if (json == nullptr || json_size < size) {
      fail(EFFNET_TRT_INVALID_ARGUMENT, "json holds " + std::to_string(json == nullptr ? 0 : json_size) + " bytes; the engine information needs " +
                                            std::to_string(size) + " (see *needed)");
    }
    std::memcpy(json, information.c_str(), size);
    return EFFNET_TRT_OK;
  });
}

void effnet_trt_free(effnet_trt_engine *engine) {
  try {
    delete engine;
  } catch (...) {
    // Nothing can be reported from here, and nothing may cross the ABI.
  }
}

}  // extern "C"
