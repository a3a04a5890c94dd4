// The network flags and the builder config from effnet_trt_build_options: workspace, profiling verbosity,
// precision (flags, or the calibrator for implicit int8), DLA and the batch optimisation profile.
#include "internal.h"

namespace effnet_trt_internal {

namespace {

nvinfer1::ProfilingVerbosity trtVerbosity(int32_t verbosity) {
  switch (verbosity) {
    case EFFNET_TRT_PROFILE_NONE: return nvinfer1::ProfilingVerbosity::kNONE;
#if EFFNET_TRT_AT_LEAST(8, 2)
    case EFFNET_TRT_PROFILE_DETAILED: return nvinfer1::ProfilingVerbosity::kDETAILED;
    default: return nvinfer1::ProfilingVerbosity::kLAYER_NAMES_ONLY;
#else
    // 8.0/8.1 names for the same levels.
    case EFFNET_TRT_PROFILE_DETAILED: return nvinfer1::ProfilingVerbosity::kVERBOSE;
    default: return nvinfer1::ProfilingVerbosity::kDEFAULT;
#endif
  }
}

void setWorkspace(nvinfer1::IBuilderConfig &config, int32_t mib) {
  const size_t bytes = static_cast<size_t>(mib) << 20;
#if EFFNET_TRT_AT_LEAST(8, 4)
  config.setMemoryPoolLimit(nvinfer1::MemoryPoolType::kWORKSPACE, bytes);
#else
  config.setMaxWorkspaceSize(bytes);
#endif
}

#if EFFNET_TRT_HAS_WEAK_TYPING
// The precision flags are deprecated from 10.12 (strong typing supersedes them) and gone in 11; weak typing is still
// what 8.x needs and what the 10.x implicit (DLA) path needs.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
void setPrecisionFlags(nvinfer1::IBuilderConfig &config, bool fp16, bool int8) {
  if (fp16) config.setFlag(nvinfer1::BuilderFlag::kFP16);
  if (int8) config.setFlag(nvinfer1::BuilderFlag::kINT8);
}
#pragma GCC diagnostic pop
#endif

void targetDla(nvinfer1::IBuilder &builder, nvinfer1::IBuilderConfig &config, const effnet_trt_build_options &o) {
  const int32_t cores = builder.getNbDLACores();
  if (o.dla_core >= cores) {
    fail(EFFNET_TRT_UNSUPPORTED, "options->dla_core is " + std::to_string(o.dla_core) + " but this device has " +
                                     std::to_string(cores) + " DLA core" + (cores == 1 ? "" : "s"));
  }
  config.setDefaultDeviceType(nvinfer1::DeviceType::kDLA);
  config.setDLACore(o.dla_core);
  if (o.gpu_fallback != 0) config.setFlag(nvinfer1::BuilderFlag::kGPU_FALLBACK);
}

void addBatchProfile(nvinfer1::IBuilder &builder, nvinfer1::IBuilderConfig &config, nvinfer1::INetworkDefinition &network,
                     const effnet_trt_build_options &o) {
  nvinfer1::IOptimizationProfile *profile = nullptr;  // owned by the builder
  for (int32_t i = 0; i < network.getNbInputs(); ++i) {
    nvinfer1::ITensor *input = network.getInput(i);
    const nvinfer1::Dims dims = input->getDimensions();
    if (dims.nbDims < 1 || dims.d[0] != -1) continue;
    for (int32_t d = 1; d < dims.nbDims; ++d) {
      if (dims.d[d] < 0) {
        fail(EFFNET_TRT_UNSUPPORTED, std::string("input '") + input->getName() + "' has shape " + dimsText(dims) +
                                         ": only the batch dimension may be dynamic; export the ONNX with a fixed image size");
      }
    }
    if (profile == nullptr) profile = builder.createOptimizationProfile();
    if (profile == nullptr) fail(EFFNET_TRT_BUILD_ERROR, "createOptimizationProfile returned NULL");
    nvinfer1::Dims smallest = dims;
    nvinfer1::Dims optimum = dims;
    nvinfer1::Dims largest = dims;
    smallest.d[0] = static_cast<DimValue>(o.min_batch);
    optimum.d[0] = static_cast<DimValue>(o.opt_batch);
    largest.d[0] = static_cast<DimValue>(o.max_batch);
    if (!profile->setDimensions(input->getName(), nvinfer1::OptProfileSelector::kMIN, smallest) ||
        !profile->setDimensions(input->getName(), nvinfer1::OptProfileSelector::kOPT, optimum) ||
        !profile->setDimensions(input->getName(), nvinfer1::OptProfileSelector::kMAX, largest)) {
      fail(EFFNET_TRT_BUILD_ERROR, std::string("cannot set the optimization profile of input '") + input->getName() + "'");
    }
  }
  if (profile != nullptr && config.addOptimizationProfile(profile) < 0) {
    fail(EFFNET_TRT_BUILD_ERROR, "addOptimizationProfile rejected the batch profile");
  }
}

}  // namespace

nvinfer1::NetworkDefinitionCreationFlags networkFlags(int32_t typing) {
#if NV_TENSORRT_MAJOR >= 11
  // Strongly typed is the only mode, and its flag is deprecated.
  (void)typing;
  return 0;
#elif NV_TENSORRT_MAJOR == 10
  // Explicit batch is the only mode in 10.x, and its flag is deprecated.
  return typing == EFFNET_TRT_TYPING_STRONG ? 1U << static_cast<uint32_t>(nvinfer1::NetworkDefinitionCreationFlag::kSTRONGLY_TYPED) : 0U;
#else
  (void)typing;
  return 1U << static_cast<uint32_t>(nvinfer1::NetworkDefinitionCreationFlag::kEXPLICIT_BATCH);
#endif
}

void configureBuild(BuildSession &session, const effnet_trt_build_options &o, std::vector<char> &calibrationCache,
                    const Capture &capture) {
  session.config.reset(session.builder->createBuilderConfig());
  if (!session.config) fail(EFFNET_TRT_BUILD_ERROR, withErrors("createBuilderConfig returned NULL", capture));
  nvinfer1::IBuilderConfig &config = *session.config;

  setWorkspace(config, o.workspace_mib);
  config.setProfilingVerbosity(trtVerbosity(o.verbosity));

  // Strongly typed: the ONNX's own types are the precision, and no flag may be set.
#if EFFNET_TRT_HAS_WEAK_TYPING
  if (o.typing == EFFNET_TRT_TYPING_WEAK) {
    // int8 (Q/DQ or calibrated) pins only the quantized layers; fp16 alongside lets the rest (SiLU, SE, the head)
    // avoid fp32, and on DLA, which runs no fp32, keeps them off the GPU.
    setPrecisionFlags(config, o.precision != EFFNET_TRT_FP32, o.precision == EFFNET_TRT_INT8);
#if EFFNET_TRT_HAS_IMPLICIT_INT8
    const bool implicitInt8 = o.precision == EFFNET_TRT_INT8 && o.quant_mode == EFFNET_TRT_IMPLICIT_CACHE;
    if (implicitInt8) session.calibrator = attachCacheOnlyCalibrator(config, std::move(calibrationCache));
#endif
  }
#endif
  // Unread where the implicit path is compiled out (11.x; validateBuildOptions refused implicit int8 there).
  (void)calibrationCache;

  if (o.dla_core >= 0) targetDla(*session.builder, config, o);
  addBatchProfile(*session.builder, config, *session.network, o);
}

}  // namespace effnet_trt_internal
