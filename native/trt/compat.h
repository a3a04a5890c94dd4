// TensorRT's headers and what differs between the releases the shim supports (8.0 … 11.x).
//
// What differs is decided at compile time, from the headers (EFFNET_TRT_AT_LEAST), never by probing at run time:
// the library is built on the device against the TensorRT it will load.
//   8.0, 8.1   bindings + enqueueV2, setMaxWorkspaceSize, no engine inspector, ProfilingVerbosity kDEFAULT/kVERBOSE
//   8.2        engine inspector, ProfilingVerbosity kLAYER_NAMES_ONLY/kDETAILED
//   8.4        setMemoryPoolLimit(kWORKSPACE)
//   8.5        name-based tensor API + enqueueV3 (bindings deprecated), DataType::kUINT8
//   8.6        DataType::kFP8
//   10.0       no implicit-batch flag (explicit batch only), kSTRONGLY_TYPED, bindings and enqueueV2 removed
//   10.1       int8 calibrators deprecated; 10.12: BuilderFlag::kFP16/kINT8 deprecated (strong typing supersedes them)
//   11.0       calibrators, setInt8Calibrator and the precision flags removed: strongly typed networks only
// Older than 8.0 is refused by native/CMakeLists.txt (with a message) and by native/effnet_trt.cpp (#error).
#ifndef EFFNET_TRT_COMPAT_H
#define EFFNET_TRT_COMPAT_H

// The ABI is declared default-visible here, not in the header, so the header stays plain C for koffi and for
// `gcc -x c`, while -fvisibility=hidden keeps every C++ symbol (TensorRT's inline wrappers included) private. Every
// source file reaches effnet_trt.h through here first, so all of them see the same visibility.
#pragma GCC visibility push(default)
#include "effnet_trt.h"
#pragma GCC visibility pop

// TensorRT's headers use their own deprecated APIs and leave parameters unused; when they are found through -I
// rather than -isystem that would bury the shim's warnings under theirs.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <NvInfer.h>
#include <NvInferVersion.h>
#include <NvOnnxParser.h>
#include <cuda_runtime_api.h>
#pragma GCC diagnostic pop

#include <memory>
#include <type_traits>
#include <utility>

#define EFFNET_TRT_AT_LEAST(major, minor) (NV_TENSORRT_MAJOR > (major) || (NV_TENSORRT_MAJOR == (major) && NV_TENSORRT_MINOR >= (minor)))

#define EFFNET_TRT_HAS_NAMED_IO EFFNET_TRT_AT_LEAST(8, 5)
#define EFFNET_TRT_HAS_INSPECTOR EFFNET_TRT_AT_LEAST(8, 2)
#define EFFNET_TRT_HAS_IMPLICIT_INT8 (NV_TENSORRT_MAJOR < 11)
#define EFFNET_TRT_HAS_WEAK_TYPING (NV_TENSORRT_MAJOR < 11)
#define EFFNET_TRT_HAS_STRONG_TYPING (NV_TENSORRT_MAJOR >= 10)

static_assert(nvinfer1::Dims::MAX_DIMS <= EFFNET_TRT_MAX_DIMS, "effnet_trt_tensor_info.dims is too small for TensorRT");

namespace effnet_trt_internal {

using nvinfer1::DataType;
using nvinfer1::ILogger;

// Dims::d is int32_t in 8.x and int64_t in 10.x.
using DimValue = std::remove_reference_t<decltype(std::declval<nvinfer1::Dims &>().d[0])>;

// `delete` works on 8.6 (destroy() is only deprecated there) and is the only way on 10.x.
struct TrtDelete {
  template <typename T>
  void operator()(T *object) const noexcept {
    delete object;
  }
};
template <typename T>
using TrtPtr = std::unique_ptr<T, TrtDelete>;

}  // namespace effnet_trt_internal

#endif  // EFFNET_TRT_COMPAT_H
