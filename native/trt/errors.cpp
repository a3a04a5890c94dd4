// Failures and the caller's text buffers.
#include <cstring>

#include "internal.h"

namespace effnet_trt_internal {

[[noreturn]] void fail(effnet_trt_status status, std::string message) { throw Failure{status, std::move(message)}; }

void requireArg(const void *pointer, const char *name) {
  if (pointer == nullptr) fail(EFFNET_TRT_INVALID_ARGUMENT, std::string(name) + " is NULL");
}

void copyText(char *buffer, size_t size, const std::string &text) {
  if (buffer == nullptr || size == 0) return;
  const size_t n = std::min(size - 1, text.size());
  std::memcpy(buffer, text.data(), n);
  buffer[n] = '\0';
}

void clearText(char *buffer, size_t size) {
  if (buffer != nullptr && size > 0) buffer[0] = '\0';
}

void checkCuda(cudaError_t result, const char *call) {
  if (result != cudaSuccess) {
    fail(EFFNET_TRT_CUDA_ERROR, std::string(call) + " failed: " + cudaGetErrorName(result) + ": " + cudaGetErrorString(result));
  }
}

}  // namespace effnet_trt_internal
