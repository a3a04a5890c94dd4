/* The engine file's bounds-checked primitives (reader.h). */
#include <stdlib.h>
#include <string.h>

#include "reader.h"

uint32_t crc32_of(const uint8_t *data, size_t size) {
  static uint32_t table[256];
  static int ready = 0;
  if (!ready) {
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
    ready = 1;
  }
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; i++) crc = table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

const uint8_t *take(reader_t *r, size_t bytes) {
  if (r->failed || bytes > r->size - r->offset) {
    r->failed = 1;
    return NULL;
  }
  const uint8_t *at = r->data + r->offset;
  r->offset += (bytes + 3) & ~(size_t)3; /* every array starts 4-byte aligned */
  if (r->offset > r->size) r->offset = r->size;
  return at;
}

int32_t read_i32(reader_t *r) {
  const uint8_t *p = take(r, 4);
  int32_t v = 0;
  if (p) memcpy(&v, p, 4);
  return v;
}

float read_f32(reader_t *r) {
  const uint8_t *p = take(r, 4);
  float v = 0;
  if (p) memcpy(&v, p, 4);
  return v;
}

/* An owned copy of an array from the file (the file buffer is not kept). */
void *read_array(reader_t *r, size_t count, size_t element, size_t *weight_bytes) {
  if (count == 0 || count > ((size_t)1 << 31) / element) {
    r->failed = 1;
    return NULL;
  }
  const uint8_t *p = take(r, count * element);
  if (!p) return NULL;
  void *copy = aligned_alloc(64, (count * element + 63) & ~(size_t)63);
  if (!copy) {
    r->failed = 2;
    return NULL;
  }
  memcpy(copy, p, count * element);
  /* Vector kernels may read a partial last block; those lanes are discarded, but read zeros, not garbage. */
  memset((uint8_t *)copy + count * element, 0, ((count * element + 63) & ~(size_t)63) - count * element);
  *weight_bytes += count * element;
  return copy;
}

