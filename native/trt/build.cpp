// effnet_trt_build's steps: ONNX file → network → config → serialized plan, with the timing cache read before the
// build and written after it, and the plan written last.
#include "internal.h"

namespace effnet_trt_internal {

namespace {

// session.builder, .network and .parser, with the ONNX parsed into the network.
void parseOnnx(BuildSession &session, const char *onnxPath, int32_t typing, const Capture &capture) {
  session.builder.reset(nvinfer1::createInferBuilder(processLogger()));
  if (!session.builder) fail(EFFNET_TRT_BUILD_ERROR, withErrors("createInferBuilder returned NULL", capture));

  session.network.reset(session.builder->createNetworkV2(networkFlags(typing)));
  if (!session.network) fail(EFFNET_TRT_BUILD_ERROR, withErrors("createNetworkV2 returned NULL", capture));

  session.parser.reset(nvonnxparser::createParser(*session.network, processLogger()));
  if (!session.parser) fail(EFFNET_TRT_PARSE_ERROR, withErrors("createParser returned NULL", capture));
  nvonnxparser::IParser &parser = *session.parser;
  if (!parser.parseFromFile(onnxPath, static_cast<int>(ILogger::Severity::kWARNING))) {
    std::string message = std::string("cannot parse '") + onnxPath + "'";
    for (int i = 0; i < parser.getNbErrors(); ++i) {
      const nvonnxparser::IParserError *e = parser.getError(i);
      if (e == nullptr) continue;
      message += (i == 0 ? ": " : "; ");
      if (e->node() >= 0) message += "node " + std::to_string(e->node()) + ": ";
      message += e->desc();
    }
    // The parser also logs each error; repeating them from the log would only double the message.
    fail(EFFNET_TRT_PARSE_ERROR, parser.getNbErrors() > 0 ? message : withErrors(message, capture));
  }
}

// session.timingCache from `path` when it exists, set on the config.
void attachTimingCache(BuildSession &session, const char *path, const Capture &capture) {
  nvinfer1::IBuilderConfig &config = *session.config;
  std::vector<char> blob;
  if (fileExists(path)) blob = readFile(path, "timing cache");
  session.timingCache.reset(config.createTimingCache(blob.data(), blob.size()));
  // A cache from another GPU or TensorRT release is stale, not fatal: start from an empty one, which the build then
  // refills and overwrites.
  if (!session.timingCache || !config.setTimingCache(*session.timingCache, false)) {
    const std::string note =
        std::string("effnet_trt: ignoring timing cache '") + path + "' (unreadable or from another GPU/TensorRT); it will be rebuilt";
    processLogger().log(ILogger::Severity::kWARNING, note.c_str());
    session.timingCache.reset(config.createTimingCache(nullptr, 0));
    if (!session.timingCache || !config.setTimingCache(*session.timingCache, false)) {
      fail(EFFNET_TRT_BUILD_ERROR, withErrors("cannot create a timing cache", capture));
    }
  }
}

void writeTimingCache(const BuildSession &session, const char *path, const Capture &capture) {
  const nvinfer1::ITimingCache *used = session.config->getTimingCache();
  TrtPtr<nvinfer1::IHostMemory> serialized(used != nullptr ? used->serialize() : nullptr);
  if (!serialized) fail(EFFNET_TRT_BUILD_ERROR, withErrors("cannot serialize the timing cache", capture));
  writeFileAtomically(path, serialized->data(), serialized->size(), "timing cache");
}

}  // namespace

void buildEngineFile(const char *onnxPath, const char *enginePath, const effnet_trt_build_options &o, const Capture &capture) {
  if (!fileExists(onnxPath)) {
    fail(EFFNET_TRT_FILE_ERROR, std::string("ONNX model '") + onnxPath + "' does not exist");
  }
  const bool implicitInt8 = o.precision == EFFNET_TRT_INT8 && o.quant_mode == EFFNET_TRT_IMPLICIT_CACHE;
  std::vector<char> calibrationCache;
  if (implicitInt8) calibrationCache = readCalibrationCache(o.cache_path);

  BuildSession session;
  parseOnnx(session, onnxPath, o.typing, capture);
  configureBuild(session, o, calibrationCache, capture);
  if (o.timing_cache_path != nullptr) attachTimingCache(session, o.timing_cache_path, capture);

  TrtPtr<nvinfer1::IHostMemory> plan(session.builder->buildSerializedNetwork(*session.network, *session.config));
  if (!plan || plan->size() == 0) fail(EFFNET_TRT_BUILD_ERROR, withErrors("buildSerializedNetwork failed", capture));

  // The timing cache is written first, so that a freshly written engine always means the whole build succeeded.
  if (session.timingCache) writeTimingCache(session, o.timing_cache_path, capture);
  writeFileAtomically(enginePath, plan->data(), plan->size(), "engine");
}

}  // namespace effnet_trt_internal
