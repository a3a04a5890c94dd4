// Reading inputs and writing outputs (plans, timing caches) without ever leaving a half-written file behind.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "internal.h"

namespace effnet_trt_internal {

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

}  // namespace effnet_trt_internal
