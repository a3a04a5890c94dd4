// What the shim's source files share: failures, the process logger, files, tensors, the engine handle and the
// steps behind each entry point of effnet_trt.h. Nothing here crosses the ABI; native/effnet_trt.cpp is the boundary.
#ifndef EFFNET_TRT_INTERNAL_H
#define EFFNET_TRT_INTERNAL_H

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "compat.h"

namespace effnet_trt_internal {

// ---------------------------------------------------------------------------------------------------------------
// Failures (errors.cpp): thrown as Failure, turned into a status and a message at the ABI boundary.

struct Failure {
  effnet_trt_status status;
  std::string message;
};

[[noreturn]] void fail(effnet_trt_status status, std::string message);
void requireArg(const void *pointer, const char *name);
// `text` into the caller's buffer, truncated to its size and always NUL-terminated.
void copyText(char *buffer, size_t size, const std::string &text);
// The caller may read `error` after a success too; a stale message from an earlier call would be misleading.
void clearText(char *buffer, size_t size);
void checkCuda(cudaError_t result, const char *call);

// ---------------------------------------------------------------------------------------------------------------
// Logging (log.cpp)
//
// TensorRT keeps one process-wide logger pointer (getLogger(); some 8.x releases ignore a second, different logger
// while objects made with the first are alive), and it may call log() from several threads. So there is one
// logger for the process, and each ABI call that wants messages registers a Capture for its duration: every
// warning or error goes to every live capture. Concurrent builds may see each other's lines; none are lost.

class Capture;

class BufferLogger final : public ILogger {
 public:
  void log(Severity severity, nvinfer1::AsciiChar const *msg) noexcept override;
  void attach(Capture *capture);
  void detach(Capture *capture) noexcept;

 private:
  std::mutex mutex_;
  std::vector<Capture *> captures_;
};

BufferLogger &processLogger();

class Capture {
 public:
  Capture() { processLogger().attach(this); }
  ~Capture() { processLogger().detach(this); }
  Capture(const Capture &) = delete;
  Capture &operator=(const Capture &) = delete;

  // Called with the logger's mutex held.
  void append(bool isError, const char *line) noexcept;
  const std::string &all() const { return all_; }
  // The error lines, trimmed, for appending to an error message.
  std::string errors() const;

 private:
  static constexpr size_t kLimit = size_t{1} << 20;
  std::string all_;
  std::string errors_;
};

// "<what>" or "<what>: <TensorRT's errors>"
std::string withErrors(const std::string &what, const Capture &capture);

// ---------------------------------------------------------------------------------------------------------------
// Files (files.cpp)

std::vector<char> readFile(const char *path, const char *what);
bool fileExists(const char *path);
// Write-then-rename, so that a crash or a full disk never leaves a truncated plan where a cache lookup would
// later find and trust it.
void writeFileAtomically(const char *path, const void *data, size_t size, const char *what);

// ---------------------------------------------------------------------------------------------------------------
// Tensors (tensors.cpp): types, shapes, and the IO tensors by binding (before 8.5) or by name (8.5+).

// Kept outside effnet_trt_engine, whose type is default-visible through the header, so that containers of it stay
// out of the library's exported symbols.
struct Tensor {
  std::string name;
  // Its binding index before 8.5 (TensorRT addresses tensors by index there), its IO index after.
  int32_t index = 0;
  bool isInput = false;
  DataType type = DataType::kFLOAT;
  nvinfer1::Dims shape{};
};

effnet_trt_dtype shimType(DataType type);
// In bits, because 10.x has a 4-bit type. 0: unknown to this build.
size_t typeBits(DataType type);
std::string dimsText(const nvinfer1::Dims &dims);
// Elements of a fully specified shape; -1 when some dimension is still dynamic.
long long volume(const nvinfer1::Dims &dims);
// The engine's inputs and outputs, in TensorRT's order.
std::vector<Tensor> ioTensorsOf(const nvinfer1::ICudaEngine &engine);
bool setInputShape(nvinfer1::IExecutionContext &context, const Tensor &input, const nvinfer1::Dims &shape);
nvinfer1::Dims contextShape(const nvinfer1::IExecutionContext &context, const Tensor &tensor);

struct DeviceBuffer {
  void *pointer = nullptr;
  size_t bytes = 0;
};

}  // namespace effnet_trt_internal

// ---------------------------------------------------------------------------------------------------------------
// The engine handle (its members are inline, so that -fvisibility-inlines-hidden keeps them out of the exports)

struct effnet_trt_engine {
  effnet_trt_internal::TrtPtr<nvinfer1::IRuntime> runtime;
  effnet_trt_internal::TrtPtr<nvinfer1::ICudaEngine> engine;
  effnet_trt_internal::TrtPtr<nvinfer1::IExecutionContext> context;
  cudaStream_t stream = nullptr;
  std::vector<effnet_trt_internal::Tensor> tensors;
  // Per IO tensor, grown on demand and kept, so steady-state inference allocates nothing on the device.
  std::vector<effnet_trt_internal::DeviceBuffer> buffers;
  // One context, one stream and shared buffers: calls on one engine from koffi's worker threads must not overlap.
  mutable std::mutex mutex;

  ~effnet_trt_engine() {
    // Errors are ignored here: there is no one left to report them to, and the process may be exiting.
    // TensorRT requires contexts to go before their engine and engines before their runtime.
    if (stream != nullptr) cudaStreamSynchronize(stream);
    context.reset();
    engine.reset();
    runtime.reset();
    for (effnet_trt_internal::DeviceBuffer &buffer : buffers) {
      if (buffer.pointer != nullptr) cudaFree(buffer.pointer);
    }
    if (stream != nullptr) cudaStreamDestroy(stream);
  }

  void *deviceBuffer(size_t index, size_t bytes) {
    effnet_trt_internal::DeviceBuffer &buffer = buffers[index];
    // TensorRT wants a valid address even for empty tensors.
    bytes = std::max<size_t>(bytes, 256);
    if (buffer.bytes < bytes) {
      if (buffer.pointer != nullptr) {
        effnet_trt_internal::checkCuda(cudaFree(buffer.pointer), "cudaFree");
        buffer = effnet_trt_internal::DeviceBuffer{};
      }
      effnet_trt_internal::checkCuda(cudaMalloc(&buffer.pointer, bytes), "cudaMalloc");
      buffer.bytes = bytes;
    }
    return buffer.pointer;
  }
};

namespace effnet_trt_internal {

// ---------------------------------------------------------------------------------------------------------------
// Calibration cache (calibration.cpp)

// The cache's bytes, refused up front when TensorRT would skip or reject it (and then calibrate on no data).
std::vector<char> readCalibrationCache(const char *path);

#if EFFNET_TRT_HAS_IMPLICIT_INT8
// Defined in calibration.cpp only, with the deprecation warnings of 10.1+ silenced there alone.
class CacheOnlyCalibrator;
struct CalibratorDelete {
  void operator()(CacheOnlyCalibrator *calibrator) const noexcept;
};
using CalibratorPtr = std::unique_ptr<CacheOnlyCalibrator, CalibratorDelete>;
// A calibrator that hands TensorRT `cache` and never calibrates, set on `config`, which refers to it until destroyed.
CalibratorPtr attachCacheOnlyCalibrator(nvinfer1::IBuilderConfig &config, std::vector<char> cache);
#endif

// ---------------------------------------------------------------------------------------------------------------
// Building (build_options.cpp, builder_config.cpp, build.cpp)

// Refuses options this TensorRT cannot build, before anything is created.
void validateBuildOptions(const effnet_trt_build_options &o);
nvinfer1::NetworkDefinitionCreationFlags networkFlags(int32_t typing);

// Everything a build holds. Members are destroyed in reverse order, which is the order TensorRT needs: the config
// refers to the timing cache and the calibrator until it is destroyed, and the parser owns the weights the network
// points at, so it lives until the plan is serialized.
struct BuildSession {
  TrtPtr<nvinfer1::IBuilder> builder;
  TrtPtr<nvinfer1::INetworkDefinition> network;
  TrtPtr<nvonnxparser::IParser> parser;
  TrtPtr<nvinfer1::ITimingCache> timingCache;
#if EFFNET_TRT_HAS_IMPLICIT_INT8
  CalibratorPtr calibrator;
#endif
  TrtPtr<nvinfer1::IBuilderConfig> config;
};

// Creates session.config from the options: workspace, profiling verbosity, precision (and the calibrator), DLA and
// the batch profile. `calibrationCache` is used (moved from) for implicit int8 only.
void configureBuild(BuildSession &session, const effnet_trt_build_options &o, std::vector<char> &calibrationCache,
                    const Capture &capture);
// Parses the ONNX, builds the engine and writes its plan to `enginePath` (and the timing cache, when asked for).
void buildEngineFile(const char *onnxPath, const char *enginePath, const effnet_trt_build_options &o, const Capture &capture);

// ---------------------------------------------------------------------------------------------------------------
// Running (engine.cpp, infer.cpp) and describing (info.cpp)

// A handle with its runtime, engine, context, stream and IO tensors, from a serialized plan.
std::unique_ptr<effnet_trt_engine> engineFromPlanFile(const char *enginePath, int32_t dlaCore);
// Runs `batch` float32 images through `e` and copies its first output into `output` (`outputCount` floats).
void infer(effnet_trt_engine &e, const float *input, int32_t batch, float *output, size_t outputCount);

effnet_trt_version compiledVersion();
effnet_trt_version loadedVersion();
void describeDevice(effnet_trt_device &device);
// The engine inspector's JSON (LayerInformationFormat::kJSON); UNSUPPORTED before 8.2, which has no inspector.
std::string engineInformation(const effnet_trt_engine &e);

}  // namespace effnet_trt_internal

#endif  // EFFNET_TRT_INTERNAL_H
