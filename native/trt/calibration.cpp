// Implicit int8 (8.x/10.x, DLA): the calibration cache our TypeScript calibration writes, checked, and the
// calibrator that hands it to TensorRT.
#include "internal.h"

namespace effnet_trt_internal {

namespace {

// The header a cache must carry for this TensorRT and the shim's calibrator.
std::string expectedCacheHeader() { return "TRT-" + std::to_string(getInferLibVersion()) + "-EntropyCalibration2"; }

// A cache from another release is skipped without a word and one made for another calibrator is rejected; either
// way TensorRT then calibrates on the batches this calibrator does not have. Refuse both up front.
void checkCacheHeader(const std::vector<char> &cache, const char *path) {
  const auto end = std::find(cache.begin(), cache.end(), '\n');
  std::string header(cache.begin(), end);
  if (!header.empty() && header.back() == '\r') header.pop_back();
  const std::string expected = expectedCacheHeader();
  if (header != expected) {
    fail(EFFNET_TRT_INVALID_ARGUMENT, std::string("calibration cache '") + path + "' starts with '" + header.substr(0, 80) + "' but this TensorRT (" +
                                          std::to_string(getInferLibVersion()) + ") and the shim's IInt8EntropyCalibrator2 read only '" + expected +
                                          "'; effnet-edge engine build writes such a copy per device (engines/calib-<version>.cache)");
  }
}

}  // namespace

std::vector<char> readCalibrationCache(const char *path) {
  std::vector<char> cache = readFile(path, "calibration cache");
  if (cache.empty()) {
    fail(EFFNET_TRT_FILE_ERROR, std::string("calibration cache '") + path + "' is empty");
  }
  checkCacheHeader(cache, path);
  return cache;
}

// TensorRT's implicit int8 path only takes scales through a calibrator. This one never calibrates: the scales come
// from the cache our TypeScript calibration writes, and a cache TensorRT rejects must fail the build rather than
// silently fall back to calibrating on no data.
#if EFFNET_TRT_HAS_IMPLICIT_INT8
// Implicit quantization is deprecated since 10.1 but is still the only way to give DLA int8 scales on 10.x.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
// IInt8EntropyCalibrator2 because DLA needs it and trtexec uses it: a cache made for it works in both.
class CacheOnlyCalibrator final : public nvinfer1::IInt8EntropyCalibrator2 {
 public:
  explicit CacheOnlyCalibrator(std::vector<char> cache) : cache_(std::move(cache)) {}
  int32_t getBatchSize() const noexcept override { return 1; }
  bool getBatch(void *[], char const *[], int32_t) noexcept override { return false; }
  void const *readCalibrationCache(std::size_t &length) noexcept override {
    length = cache_.size();
    return cache_.empty() ? nullptr : cache_.data();
  }
  // The cache file is an input owned by the calibration step; TensorRT must not overwrite it.
  void writeCalibrationCache(void const *, std::size_t) noexcept override {}

 private:
  std::vector<char> cache_;
};

void CalibratorDelete::operator()(CacheOnlyCalibrator *calibrator) const noexcept { delete calibrator; }

CalibratorPtr attachCacheOnlyCalibrator(nvinfer1::IBuilderConfig &config, std::vector<char> cache) {
  CalibratorPtr calibrator(new CacheOnlyCalibrator(std::move(cache)));
  config.setInt8Calibrator(calibrator.get());
  return calibrator;
}
#pragma GCC diagnostic pop
#endif

}  // namespace effnet_trt_internal
