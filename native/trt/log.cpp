// The process-wide TensorRT logger and the per-call captures it copies warnings and errors into.
#include "internal.h"

namespace effnet_trt_internal {

void BufferLogger::attach(Capture *capture) {
  std::lock_guard<std::mutex> lock(mutex_);
  captures_.push_back(capture);
}

void BufferLogger::detach(Capture *capture) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  captures_.erase(std::remove(captures_.begin(), captures_.end(), capture), captures_.end());
}

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

// Never destroyed: engines the caller forgot to free still hold it at exit, and static destruction order across
// libnvinfer and this library is unspecified.
BufferLogger &processLogger() {
  static BufferLogger *logger = new BufferLogger();
  return *logger;
}

void Capture::append(bool isError, const char *line) noexcept {
  try {
    // A pathological build can warn per layer and per tactic; the caller's buffer is far smaller anyway.
    if (all_.size() < kLimit) all_ += line;
    if (isError && errors_.size() < kLimit) errors_ += line;
  } catch (...) {
    // Losing a log line is better than failing the build over it.
  }
}

std::string Capture::errors() const {
  std::string text = errors_;
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

std::string withErrors(const std::string &what, const Capture &capture) {
  const std::string errors = capture.errors();
  return errors.empty() ? what : what + ": " + errors;
}

}  // namespace effnet_trt_internal
