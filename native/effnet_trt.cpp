// effnet_trt: the C ABI of effnet_trt.h over TensorRT 8.0 … 11.x.
//
// What differs between releases is decided here at compile time, from the headers (EFFNET_TRT_AT_LEAST), never by
// probing at run time: the library is built on the device against the TensorRT it will load.
//   8.0, 8.1   bindings + enqueueV2, setMaxWorkspaceSize, no engine inspector, ProfilingVerbosity kDEFAULT/kVERBOSE
//   8.2        engine inspector, ProfilingVerbosity kLAYER_NAMES_ONLY/kDETAILED
//   8.4        setMemoryPoolLimit(kWORKSPACE)
//   8.5        name-based tensor API + enqueueV3 (bindings deprecated), DataType::kUINT8
//   8.6        DataType::kFP8
//   10.0       no implicit-batch flag (explicit batch only), kSTRONGLY_TYPED, bindings and enqueueV2 removed
//   10.1       int8 calibrators deprecated; 10.12: BuilderFlag::kFP16/kINT8 deprecated (strong typing supersedes them)
//   11.0       calibrators, setInt8Calibrator and the precision flags removed: strongly typed networks only
//
// One translation unit on purpose: the library is built on the device (engines cannot be cross-built), so the
// fewer moving parts the CMake project has, the fewer ways a JetPack install can break it.

// The ABI is declared default-visible here, not in the header, so the header stays plain C for koffi and for
// `gcc -x c`, while -fvisibility=hidden keeps every C++ symbol (TensorRT's inline wrappers included) private.
#pragma GCC visibility push(default)
#include "effnet_trt.h"
#pragma GCC visibility pop

// TensorRT's headers use their own deprecated APIs and leave parameters unused; when they are found through -I
// rather than -isystem that would bury this file's warnings under theirs.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <NvInfer.h>
#include <NvInferVersion.h>
#include <NvOnnxParser.h>
#include <cuda_runtime_api.h>
#pragma GCC diagnostic pop

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <type_traits>
#include <vector>

#define EFFNET_TRT_AT_LEAST(major, minor) (NV_TENSORRT_MAJOR > (major) || (NV_TENSORRT_MAJOR == (major) && NV_TENSORRT_MINOR >= (minor)))

// native/CMakeLists.txt reads NvInferVersion.h and skips the shim below 8.0 with a message; this is the backstop.
#if !EFFNET_TRT_AT_LEAST(8, 0)
#error "effnet_trt needs TensorRT 8.0 or newer"
#endif

#define EFFNET_TRT_HAS_NAMED_IO EFFNET_TRT_AT_LEAST(8, 5)
#define EFFNET_TRT_HAS_INSPECTOR EFFNET_TRT_AT_LEAST(8, 2)
#define EFFNET_TRT_HAS_IMPLICIT_INT8 (NV_TENSORRT_MAJOR < 11)
#define EFFNET_TRT_HAS_WEAK_TYPING (NV_TENSORRT_MAJOR < 11)
#define EFFNET_TRT_HAS_STRONG_TYPING (NV_TENSORRT_MAJOR >= 10)

static_assert(nvinfer1::Dims::MAX_DIMS <= EFFNET_TRT_MAX_DIMS, "effnet_trt_tensor_info.dims is too small for TensorRT");

namespace {

using nvinfer1::DataType;
using nvinfer1::ILogger;

// Dims::d is int32_t in 8.x and int64_t in 10.x.
using DimValue = std::remove_reference_t<decltype(std::declval<nvinfer1::Dims&>().d[0])>;

// ---------------------------------------------------------------------------------------------------------------
// Messages

void copyText(char *buffer, size_t size, const std::string &text) {
  if (buffer == nullptr || size == 0) return;
  const size_t n = std::min(size - 1, text.size());
  std::memcpy(buffer, text.data(), n);
  buffer[n] = '\0';
}

// The caller may read `error` after a success too; a stale message from an earlier call would be misleading.
void clearText(char *buffer, size_t size) {
  if (buffer != nullptr && size > 0) buffer[0] = '\0';
}

struct Failure {
  effnet_trt_status status;
  std::string message;
};

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

[[noreturn]] void fail(effnet_trt_status status, std::string message) { throw Failure{status, std::move(message)}; }

void requireArg(const void *pointer, const char *name) {
  if (pointer == nullptr) fail(EFFNET_TRT_INVALID_ARGUMENT, std::string(name) + " is NULL");
}

// ---------------------------------------------------------------------------------------------------------------
// Logging
//
// TensorRT keeps one process-wide logger pointer (getLogger(); some 8.x releases ignore a second, different logger
// while objects made with the first are alive), and it may call log() from several threads. So there is one
// logger for the process, and each ABI call that wants messages registers a Capture for its duration: every
// warning or error goes to every live capture. Concurrent builds may see each other's lines; none are lost.

class Capture;

class BufferLogger final : public ILogger {
 public:
  void log(Severity severity, nvinfer1::AsciiChar const *msg) noexcept override;
  void attach(Capture *capture) {
    std::lock_guard<std::mutex> lock(mutex_);
    captures_.push_back(capture);
  }
  void detach(Capture *capture) noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    captures_.erase(std::remove(captures_.begin(), captures_.end(), capture), captures_.end());
  }

 private:
  std::mutex mutex_;
  std::vector<Capture *> captures_;
};

// Never destroyed: engines the caller forgot to free still hold it at exit, and static destruction order across
// libnvinfer and this library is unspecified.
BufferLogger &processLogger() {
  static BufferLogger *logger = new BufferLogger();
  return *logger;
}

class Capture {
 public:
  Capture() { processLogger().attach(this); }
  ~Capture() { processLogger().detach(this); }
  Capture(const Capture &) = delete;
  Capture &operator=(const Capture &) = delete;

  // Called with the logger's mutex held.
  void append(bool isError, const char *line) noexcept {
    try {
      // A pathological build can warn per layer and per tactic; the caller's buffer is far smaller anyway.
      if (all_.size() < kLimit) all_ += line;
      if (isError && errors_.size() < kLimit) errors_ += line;
    } catch (...) {
      // Losing a log line is better than failing the build over it.
    }
  }
  const std::string &all() const { return all_; }
  // The error lines, trimmed, for appending to an error message.
  std::string errors() const {
    std::string text = errors_;
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
  }

 private:
  static constexpr size_t kLimit = size_t{1} << 20;
  std::string all_;
  std::string errors_;
};

void BufferLogger::log(Severity severity, nvinfer1::AsciiChar const *msg) noexcept {
  if (severity > Severity::kWARNING || msg == nullptr) return;
  const bool isError = severity != Severity::kWARNING;
  const char *tag = severity == Severity::kWARNING ? "[W] " : severity == Severity::kERROR ? "[E] " : "[F] ";
  try {
    std::string line = std::string(tag) + msg;
    if (line.empty() || line.back() != '\n') line += '\n';
    std::lock_guard<std::mutex> lock(mutex_);
    for (Capture *capture : captures_) capture->append(isError, line.c_str());
  } catch (...) {
    // log() is noexcept in TensorRT's contract.
  }
}

// "<what>" or "<what>: <TensorRT's errors>"
std::string withErrors(const std::string &what, const Capture &capture) {
  const std::string errors = capture.errors();
  return errors.empty() ? what : what + ": " + errors;
}

// ---------------------------------------------------------------------------------------------------------------
// TensorRT object ownership

// `delete` works on 8.6 (destroy() is only deprecated there) and is the only way on 10.x.
struct TrtDelete {
  template <typename T>
  void operator()(T *object) const noexcept {
    delete object;
  }
};
template <typename T>
using TrtPtr = std::unique_ptr<T, TrtDelete>;

// ---------------------------------------------------------------------------------------------------------------
// Files

std::vector<char> readFile(const char *path, const char *what) {
  std::FILE *file = std::fopen(path, "rb");
  if (file == nullptr) {
    fail(EFFNET_TRT_FILE_ERROR, std::string("cannot open ") + what + " '" + path + "': " + std::strerror(errno));
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE *)> closer(file, &std::fclose);
  std::vector<char> bytes;
  char chunk[1 << 16];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof chunk, file)) > 0) bytes.insert(bytes.end(), chunk, chunk + n);
  if (std::ferror(file)) {
    fail(EFFNET_TRT_FILE_ERROR, std::string("cannot read ") + what + " '" + path + "': " + std::strerror(errno));
  }
  return bytes;
}

bool fileExists(const char *path) { return access(path, F_OK) == 0; }

// Write-then-rename, so that a crash or a full disk never leaves a truncated plan where a cache lookup would
// later find and trust it.
void writeFileAtomically(const char *path, const void *data, size_t size, const char *what) {
  const std::string temporary = std::string(path) + ".tmp-" + std::to_string(static_cast<long>(getpid()));
  std::FILE *file = std::fopen(temporary.c_str(), "wb");
  if (file == nullptr) {
    fail(EFFNET_TRT_FILE_ERROR, std::string("cannot create ") + what + " '" + temporary + "': " + std::strerror(errno));
  }
  const bool written = std::fwrite(data, 1, size, file) == size;
  const int writeErrno = errno;
  const bool closed = std::fclose(file) == 0;
  if (!written || !closed) {
    const int err = !written ? writeErrno : errno;
    std::remove(temporary.c_str());
    fail(EFFNET_TRT_FILE_ERROR, std::string("cannot write ") + what + " '" + temporary + "': " + std::strerror(err));
  }
  if (std::rename(temporary.c_str(), path) != 0) {
    const int err = errno;
    std::remove(temporary.c_str());
    fail(EFFNET_TRT_FILE_ERROR, std::string("cannot rename '") + temporary + "' to '" + path + "': " + std::strerror(err));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Calibration cache

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

void setCalibrator(nvinfer1::IBuilderConfig &config, CacheOnlyCalibrator *calibrator) { config.setInt8Calibrator(calibrator); }
#pragma GCC diagnostic pop
#endif

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

// ---------------------------------------------------------------------------------------------------------------
// Data types

effnet_trt_dtype shimType(DataType type) {
  switch (type) {
    case DataType::kFLOAT: return EFFNET_TRT_DTYPE_FLOAT;
    case DataType::kHALF: return EFFNET_TRT_DTYPE_HALF;
    case DataType::kINT8: return EFFNET_TRT_DTYPE_INT8;
    case DataType::kINT32: return EFFNET_TRT_DTYPE_INT32;
    default: return EFFNET_TRT_DTYPE_OTHER;
  }
}

// In bits, because 10.x has a 4-bit type. 0: unknown to this build.
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

// Elements of a fully specified shape; -1 when some dimension is still dynamic.
long long volume(const nvinfer1::Dims &dims) {
  if (dims.nbDims < 0) return -1;
  long long count = 1;
  for (int32_t i = 0; i < dims.nbDims; ++i) {
    if (dims.d[i] < 0) return -1;
    count *= static_cast<long long>(dims.d[i]);
  }
  return count;
}

// ---------------------------------------------------------------------------------------------------------------
// CUDA

void checkCuda(cudaError_t result, const char *call) {
  if (result != cudaSuccess) {
    fail(EFFNET_TRT_CUDA_ERROR, std::string(call) + " failed: " + cudaGetErrorName(result) + ": " + cudaGetErrorString(result));
  }
}

struct DeviceBuffer {
  void *pointer = nullptr;
  size_t bytes = 0;
};

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

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// The engine handle

struct effnet_trt_engine {
  TrtPtr<nvinfer1::IRuntime> runtime;
  TrtPtr<nvinfer1::ICudaEngine> engine;
  TrtPtr<nvinfer1::IExecutionContext> context;
  cudaStream_t stream = nullptr;
  std::vector<Tensor> tensors;
  // Per IO tensor, grown on demand and kept, so steady-state inference allocates nothing on the device.
  std::vector<DeviceBuffer> buffers;
  // One context, one stream and shared buffers: calls on one engine from koffi's worker threads must not overlap.
  mutable std::mutex mutex;

  ~effnet_trt_engine() {
    // Errors are ignored here: there is no one left to report them to, and the process may be exiting.
    // TensorRT requires contexts to go before their engine and engines before their runtime.
    if (stream != nullptr) cudaStreamSynchronize(stream);
    context.reset();
    engine.reset();
    runtime.reset();
    for (DeviceBuffer &buffer : buffers) {
      if (buffer.pointer != nullptr) cudaFree(buffer.pointer);
    }
    if (stream != nullptr) cudaStreamDestroy(stream);
  }

  void *deviceBuffer(size_t index, size_t bytes) {
    DeviceBuffer &buffer = buffers[index];
    // TensorRT wants a valid address even for empty tensors.
    bytes = std::max<size_t>(bytes, 256);
    if (buffer.bytes < bytes) {
      if (buffer.pointer != nullptr) {
        checkCuda(cudaFree(buffer.pointer), "cudaFree");
        buffer = DeviceBuffer{};
      }
      checkCuda(cudaMalloc(&buffer.pointer, bytes), "cudaMalloc");
      buffer.bytes = bytes;
    }
    return buffer.pointer;
  }
};

namespace {

const effnet_trt_engine &requireEngine(const effnet_trt_engine *engine) {
  requireArg(engine, "engine");
  return *engine;
}

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

void validate(const effnet_trt_build_options &o) {
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

// The engine's inputs and outputs, in TensorRT's order.
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

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// The ABI

extern "C" {

int32_t effnet_trt_abi_version(void) { return EFFNET_TRT_ABI_VERSION; }

effnet_trt_status effnet_trt_versions(effnet_trt_version *compiled, effnet_trt_version *loaded, char *error, size_t error_size) {
  return guarded("effnet_trt_versions", error, error_size, [&] {
    requireArg(compiled, "compiled");
    requireArg(loaded, "loaded");
    *compiled = effnet_trt_version{NV_TENSORRT_MAJOR, NV_TENSORRT_MINOR, NV_TENSORRT_PATCH, static_cast<int32_t>(NV_TENSORRT_VERSION)};
    *loaded = decodeVersion(getInferLibVersion());
    return EFFNET_TRT_OK;
  });
}

effnet_trt_status effnet_trt_device_info(effnet_trt_device *device, char *error, size_t error_size) {
  return guarded("effnet_trt_device_info", error, error_size, [&] {
    requireArg(device, "device");
    *device = effnet_trt_device{};
    int index = 0;
    checkCuda(cudaGetDevice(&index), "cudaGetDevice");
    cudaDeviceProp properties{};
    checkCuda(cudaGetDeviceProperties(&properties, index), "cudaGetDeviceProperties");
    copyText(device->name, sizeof device->name, properties.name);
    device->sm_major = properties.major;
    device->sm_minor = properties.minor;
    device->memory_bytes = static_cast<int64_t>(properties.totalGlobalMem);
    Capture capture;
    TrtPtr<nvinfer1::IRuntime> runtime(nvinfer1::createInferRuntime(processLogger()));
    if (!runtime) fail(EFFNET_TRT_RUNTIME_ERROR, withErrors("createInferRuntime returned NULL", capture));
    device->dla_cores = runtime->getNbDLACores();
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
    const effnet_trt_build_options &o = *options;
    validate(o);

    Capture capture;
    // The log matters most when the build fails, so it is copied out however the body ends.
    struct CopyLog {
      const Capture &capture;
      char *log;
      size_t size;
      ~CopyLog() { copyText(log, size, capture.all()); }
    } copyLog{capture, log, log_size};

    if (!fileExists(onnx_path)) {
      fail(EFFNET_TRT_FILE_ERROR, std::string("ONNX model '") + onnx_path + "' does not exist");
    }

    const bool implicitInt8 = o.precision == EFFNET_TRT_INT8 && o.quant_mode == EFFNET_TRT_IMPLICIT_CACHE;
    std::vector<char> calibrationCache;
    if (implicitInt8) {
      calibrationCache = readFile(o.cache_path, "calibration cache");
      if (calibrationCache.empty()) {
        fail(EFFNET_TRT_FILE_ERROR, std::string("calibration cache '") + o.cache_path + "' is empty");
      }
      checkCacheHeader(calibrationCache, o.cache_path);
    }

    TrtPtr<nvinfer1::IBuilder> builder(nvinfer1::createInferBuilder(processLogger()));
    if (!builder) fail(EFFNET_TRT_BUILD_ERROR, withErrors("createInferBuilder returned NULL", capture));

    TrtPtr<nvinfer1::INetworkDefinition> network(builder->createNetworkV2(networkFlags(o.typing)));
    if (!network) fail(EFFNET_TRT_BUILD_ERROR, withErrors("createNetworkV2 returned NULL", capture));

    // The parser owns the weights the network points at, so it lives until the plan is serialized.
    TrtPtr<nvonnxparser::IParser> parser(nvonnxparser::createParser(*network, processLogger()));
    if (!parser) fail(EFFNET_TRT_PARSE_ERROR, withErrors("createParser returned NULL", capture));
    if (!parser->parseFromFile(onnx_path, static_cast<int>(ILogger::Severity::kWARNING))) {
      std::string message = std::string("cannot parse '") + onnx_path + "'";
      for (int i = 0; i < parser->getNbErrors(); ++i) {
        const nvonnxparser::IParserError *e = parser->getError(i);
        if (e == nullptr) continue;
        message += (i == 0 ? ": " : "; ");
        if (e->node() >= 0) message += "node " + std::to_string(e->node()) + ": ";
        message += e->desc();
      }
      // The parser also logs each error; repeating them from the log would only double the message.
      fail(EFFNET_TRT_PARSE_ERROR, parser->getNbErrors() > 0 ? message : withErrors(message, capture));
    }

    // Declared before the config so that it outlives it: the config refers to the cache until it is destroyed.
    TrtPtr<nvinfer1::ITimingCache> timingCache;
#if EFFNET_TRT_HAS_IMPLICIT_INT8
    std::unique_ptr<CacheOnlyCalibrator> calibrator;
#endif
    TrtPtr<nvinfer1::IBuilderConfig> config(builder->createBuilderConfig());
    if (!config) fail(EFFNET_TRT_BUILD_ERROR, withErrors("createBuilderConfig returned NULL", capture));

    setWorkspace(*config, o.workspace_mib);
    config->setProfilingVerbosity(trtVerbosity(o.verbosity));

    // Strongly typed: the ONNX's own types are the precision, and no flag may be set.
#if EFFNET_TRT_HAS_WEAK_TYPING
    if (o.typing == EFFNET_TRT_TYPING_WEAK) {
      // int8 (Q/DQ or calibrated) pins only the quantized layers; fp16 alongside lets the rest (SiLU, SE, the head)
      // avoid fp32, and on DLA, which runs no fp32, keeps them off the GPU.
      setPrecisionFlags(*config, o.precision != EFFNET_TRT_FP32, o.precision == EFFNET_TRT_INT8);
#if EFFNET_TRT_HAS_IMPLICIT_INT8
      if (implicitInt8) {
        calibrator.reset(new CacheOnlyCalibrator(std::move(calibrationCache)));
        setCalibrator(*config, calibrator.get());
      }
#endif
    }
#endif

    if (o.dla_core >= 0) {
      const int32_t cores = builder->getNbDLACores();
      if (o.dla_core >= cores) {
        fail(EFFNET_TRT_UNSUPPORTED, "options->dla_core is " + std::to_string(o.dla_core) + " but this device has " +
                                         std::to_string(cores) + " DLA core" + (cores == 1 ? "" : "s"));
      }
      config->setDefaultDeviceType(nvinfer1::DeviceType::kDLA);
      config->setDLACore(o.dla_core);
      if (o.gpu_fallback != 0) config->setFlag(nvinfer1::BuilderFlag::kGPU_FALLBACK);
    }

    addBatchProfile(*builder, *config, *network, o);

    if (o.timing_cache_path != nullptr) {
      std::vector<char> blob;
      if (fileExists(o.timing_cache_path)) blob = readFile(o.timing_cache_path, "timing cache");
      timingCache.reset(config->createTimingCache(blob.data(), blob.size()));
      // A cache from another GPU or TensorRT release is stale, not fatal: start from an empty one, which the
      // build then refills and overwrites.
      if (!timingCache || !config->setTimingCache(*timingCache, false)) {
        const std::string note = std::string("effnet_trt: ignoring timing cache '") + o.timing_cache_path +
                                 "' (unreadable or from another GPU/TensorRT); it will be rebuilt";
        processLogger().log(ILogger::Severity::kWARNING, note.c_str());
        timingCache.reset(config->createTimingCache(nullptr, 0));
        if (!timingCache || !config->setTimingCache(*timingCache, false)) {
          fail(EFFNET_TRT_BUILD_ERROR, withErrors("cannot create a timing cache", capture));
        }
      }
    }

    TrtPtr<nvinfer1::IHostMemory> plan(builder->buildSerializedNetwork(*network, *config));
    if (!plan || plan->size() == 0) fail(EFFNET_TRT_BUILD_ERROR, withErrors("buildSerializedNetwork failed", capture));

    // The timing cache is written first, so that a freshly written engine always means the whole build succeeded.
    if (timingCache) {
      const nvinfer1::ITimingCache *used = config->getTimingCache();
      TrtPtr<nvinfer1::IHostMemory> serialized(used != nullptr ? used->serialize() : nullptr);
      if (!serialized) fail(EFFNET_TRT_BUILD_ERROR, withErrors("cannot serialize the timing cache", capture));
      writeFileAtomically(o.timing_cache_path, serialized->data(), serialized->size(), "timing cache");
    }
    writeFileAtomically(engine_path, plan->data(), plan->size(), "engine");
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
    Capture capture;
    const std::vector<char> plan = readFile(engine_path, "engine");
    if (plan.empty()) fail(EFFNET_TRT_FILE_ERROR, std::string("engine '") + engine_path + "' is empty");

    std::unique_ptr<effnet_trt_engine> handle(new effnet_trt_engine());
    handle->runtime.reset(nvinfer1::createInferRuntime(processLogger()));
    if (!handle->runtime) fail(EFFNET_TRT_RUNTIME_ERROR, withErrors("createInferRuntime returned NULL", capture));
    if (dla_core >= 0) {
      const int32_t cores = handle->runtime->getNbDLACores();
      if (dla_core >= cores) {
        fail(EFFNET_TRT_UNSUPPORTED, "dla_core is " + std::to_string(dla_core) + " but this device has " + std::to_string(cores) +
                                         " DLA core" + (cores == 1 ? "" : "s"));
      }
      handle->runtime->setDLACore(dla_core);
    }
    handle->engine.reset(handle->runtime->deserializeCudaEngine(plan.data(), plan.size()));
    if (!handle->engine) {
      fail(EFFNET_TRT_RUNTIME_ERROR,
           withErrors(std::string("cannot deserialize '") + engine_path + "' (built by another TensorRT release or for another GPU?)", capture));
    }
    handle->context.reset(handle->engine->createExecutionContext());
    if (!handle->context) fail(EFFNET_TRT_RUNTIME_ERROR, withErrors("createExecutionContext returned NULL", capture));
    checkCuda(cudaStreamCreate(&handle->stream), "cudaStreamCreate");

    handle->tensors = ioTensorsOf(*handle->engine);
    handle->buffers.resize(handle->tensors.size());
    *engine = handle.release();
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
    effnet_trt_engine &e = *engine;
    std::lock_guard<std::mutex> lock(e.mutex);
    Capture capture;

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
    if (!setInputShape(*e.context, in, shape)) {
      fail(EFFNET_TRT_INVALID_ARGUMENT,
           withErrors("batch " + std::to_string(batch) + " is outside the engine's optimization profile (shape " + dimsText(shape) + ")", capture));
    }

    // Output shapes are only known once the input shape is set.
    std::vector<size_t> bytes(e.tensors.size());
    for (size_t i = 0; i < e.tensors.size(); ++i) {
      const Tensor &t = e.tensors[i];
      const nvinfer1::Dims dims = i == inputIndex ? shape : contextShape(*e.context, t);
      const long long count = volume(dims);
      const size_t bits = typeBits(t.type);
      if (count < 0 || bits == 0) {
        fail(EFFNET_TRT_UNSUPPORTED, "cannot size tensor '" + t.name + "' (shape " + dimsText(dims) + ", data-dependent or of an unknown type)");
      }
      bytes[i] = (static_cast<size_t>(count) * bits + 7) / 8;
    }
    const size_t outputFloats = bytes[outputIndex] / sizeof(float);
    if (outputFloats > output_count) {
      fail(EFFNET_TRT_INVALID_ARGUMENT, "output_count is " + std::to_string(output_count) + " but output '" + out.name + "' has " +
                                            std::to_string(outputFloats) + " floats for batch " + std::to_string(batch));
    }

    std::vector<void *> bindings(e.tensors.size());
    for (size_t i = 0; i < e.tensors.size(); ++i) {
      bindings[i] = e.deviceBuffer(i, bytes[i]);
#if EFFNET_TRT_HAS_NAMED_IO
      if (!e.context->setTensorAddress(e.tensors[i].name.c_str(), bindings[i])) {
        fail(EFFNET_TRT_RUNTIME_ERROR, withErrors("setTensorAddress('" + e.tensors[i].name + "') failed", capture));
      }
#endif
    }
    checkCuda(cudaMemcpyAsync(e.buffers[inputIndex].pointer, input, bytes[inputIndex], cudaMemcpyHostToDevice, e.stream),
              "cudaMemcpyAsync (input)");
#if EFFNET_TRT_HAS_NAMED_IO
    const bool enqueued = e.context->enqueueV3(e.stream);
    const char *enqueue = "enqueueV3";
#else
    // ioTensorsOf keeps binding order, so the buffers are already indexed by binding.
    const bool enqueued = e.context->enqueueV2(bindings.data(), e.stream, nullptr);
    const char *enqueue = "enqueueV2";
#endif
    if (!enqueued) {
      // Drain what was queued so the buffers are not reused while a copy is in flight.
      cudaStreamSynchronize(e.stream);
      fail(EFFNET_TRT_RUNTIME_ERROR, withErrors(std::string(enqueue) + " failed", capture));
    }
    checkCuda(cudaMemcpyAsync(output, e.buffers[outputIndex].pointer, bytes[outputIndex], cudaMemcpyDeviceToHost, e.stream),
              "cudaMemcpyAsync (output)");
    checkCuda(cudaStreamSynchronize(e.stream), "cudaStreamSynchronize");
    return EFFNET_TRT_OK;
  });
}

effnet_trt_status effnet_trt_inspect(const effnet_trt_engine *engine, char *json, size_t json_size, size_t *needed, char *error,
                                     size_t error_size) {
  return guarded("effnet_trt_inspect", error, error_size, [&]() -> effnet_trt_status {
    const effnet_trt_engine &e = requireEngine(engine);
    requireArg(needed, "needed");
    *needed = 0;
#if !EFFNET_TRT_HAS_INSPECTOR
    (void)e;
    (void)json;
    (void)json_size;
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
    const size_t size = std::strlen(information) + 1;
    *needed = size;
    // A NULL buffer is the caller asking for the size first.
    if (json == nullptr || json_size < size) {
      fail(EFFNET_TRT_INVALID_ARGUMENT, "json holds " + std::to_string(json == nullptr ? 0 : json_size) + " bytes; the engine information needs " +
                                            std::to_string(size) + " (see *needed)");
    }
    std::memcpy(json, information, size);
    return EFFNET_TRT_OK;
#endif
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
