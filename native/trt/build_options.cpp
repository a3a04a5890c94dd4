// effnet_trt_build_options checked before anything is created: each message names the field, its value and what
// is expected.
#include "internal.h"

namespace effnet_trt_internal {

namespace {

// What no TensorRT release would build.
void validateValues(const effnet_trt_build_options &o) {
  if (o.precision < EFFNET_TRT_FP32 || o.precision > EFFNET_TRT_INT8) {
    fail(EFFNET_TRT_INVALID_ARGUMENT, "options->precision is " + std::to_string(o.precision) + "; expected 0 (fp32), 1 (fp16) or 2 (int8)");
  }
  if (o.quant_mode != EFFNET_TRT_EXPLICIT_QDQ && o.quant_mode != EFFNET_TRT_IMPLICIT_CACHE) {
    fail(EFFNET_TRT_INVALID_ARGUMENT,
         "options->quant_mode is " + std::to_string(o.quant_mode) + "; expected 0 (explicit Q/DQ) or 1 (implicit, calibration cache)");
  }
  if (o.precision == EFFNET_TRT_INT8 && o.quant_mode == EFFNET_TRT_IMPLICIT_CACHE && o.cache_path == nullptr) {
    fail(EFFNET_TRT_INVALID_ARGUMENT, "options->cache_path is NULL; int8 with quant_mode 1 (implicit) needs a calibration cache");
  }
  if (o.workspace_mib < 1) {
    fail(EFFNET_TRT_INVALID_ARGUMENT, "options->workspace_mib is " + std::to_string(o.workspace_mib) + "; expected at least 1");
  }
  if (o.dla_core < -1) {
    fail(EFFNET_TRT_INVALID_ARGUMENT, "options->dla_core is " + std::to_string(o.dla_core) + "; expected -1 (GPU) or a DLA core index");
  }
  if (o.verbosity < EFFNET_TRT_PROFILE_LAYER_NAMES || o.verbosity > EFFNET_TRT_PROFILE_DETAILED) {
    fail(EFFNET_TRT_INVALID_ARGUMENT,
         "options->verbosity is " + std::to_string(o.verbosity) + "; expected 0 (layer names), 1 (none) or 2 (detailed)");
  }
  if (o.min_batch < 1 || o.opt_batch < o.min_batch || o.max_batch < o.opt_batch) {
    fail(EFFNET_TRT_INVALID_ARGUMENT, "options->min_batch/opt_batch/max_batch are " + std::to_string(o.min_batch) + "/" + std::to_string(o.opt_batch) +
                                          "/" + std::to_string(o.max_batch) + "; expected 1 <= min <= opt <= max");
  }
  // NvInfer.h (IBuilderConfig::setDLACore, since 8.x): DLA takes only static shapes, so one batch size per engine.
  if (o.dla_core >= 0 && (o.min_batch != o.max_batch || o.opt_batch != o.max_batch)) {
    fail(EFFNET_TRT_INVALID_ARGUMENT, "a DLA engine needs a static batch (min = opt = max), got " + std::to_string(o.min_batch) + "/" +
                                          std::to_string(o.opt_batch) + "/" + std::to_string(o.max_batch) + "; pad smaller batches to it");
  }
  if (o.dla_core >= 0 && o.precision == EFFNET_TRT_FP32) {
    fail(EFFNET_TRT_UNSUPPORTED, "DLA runs fp16 and int8 only; build for the GPU (dla_core -1) or with fp16/int8");
  }
  if (o.typing != EFFNET_TRT_TYPING_WEAK && o.typing != EFFNET_TRT_TYPING_STRONG) {
    fail(EFFNET_TRT_INVALID_ARGUMENT, "options->typing is " + std::to_string(o.typing) + "; expected 0 (weak) or 1 (strong)");
  }
}

// What the TensorRT these headers are from cannot build: typing modes and implicit int8 come and go by release.
void validateForThisRelease(const effnet_trt_build_options &o) {
  const std::string release = "TensorRT " + std::to_string(NV_TENSORRT_MAJOR) + "." + std::to_string(NV_TENSORRT_MINOR);
#if !EFFNET_TRT_HAS_STRONG_TYPING
  if (o.typing == EFFNET_TRT_TYPING_STRONG) {
    fail(EFFNET_TRT_UNSUPPORTED, release + " has no strongly typed networks (10.0+); build with typing 0 (weak)");
  }
#endif
#if !EFFNET_TRT_HAS_WEAK_TYPING
  if (o.typing == EFFNET_TRT_TYPING_WEAK) {
    fail(EFFNET_TRT_UNSUPPORTED, release + " builds strongly typed networks only (precision comes from the ONNX); build with typing 1 (strong)");
  }
#endif
  if (o.quant_mode == EFFNET_TRT_IMPLICIT_CACHE && o.precision == EFFNET_TRT_INT8) {
#if EFFNET_TRT_HAS_IMPLICIT_INT8
    if (o.typing == EFFNET_TRT_TYPING_STRONG) {
      fail(EFFNET_TRT_INVALID_ARGUMENT, "implicit int8 (quant_mode 1) needs weak typing: a strongly typed network takes its int8 from Q/DQ nodes");
    }
#else
    fail(EFFNET_TRT_UNSUPPORTED, release + " removed implicit int8 (calibrators and calibration caches); build the Q/DQ ONNX with quant_mode 0 (explicit)");
#endif
  }
}

}  // namespace

void validateBuildOptions(const effnet_trt_build_options &o) {
  validateValues(o);
  validateForThisRelease(o);
}

}  // namespace effnet_trt_internal
