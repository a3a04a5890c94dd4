/*
 * Reading the engine file (loader.c): bounds-checked primitives over the file's bytes (reader.c) and one reader per
 * layer kind (layer_readers.c).
 */
#ifndef EFFNET_INT8_READER_H
#define EFFNET_INT8_READER_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

typedef struct {
  const uint8_t *data;
  size_t size, offset;
  int failed;
} reader_t;

typedef struct {
  int32_t h, w, c, set;
} shape_t;


uint32_t crc32_of(const uint8_t *data, size_t size);
/* The next `bytes` of the file (NULL, and r->failed = 1, past its end); every array starts 4-byte aligned. */
const uint8_t *take(reader_t *r, size_t bytes);
int32_t read_i32(reader_t *r);
float read_f32(reader_t *r);
/* An owned copy of an array from the file (NULL and r->failed = 1 past the end, 2 out of memory); adds its bytes. */
void *read_array(reader_t *r, size_t count, size_t element, size_t *weight_bytes);

/* Scales must be positive normal floats: zero, infinite and NaN are meaningless, and a subnormal scale is flushed to
 * zero by some vector paths (DAZ/FTZ, NEON) but not by the scalar one, so the paths would disagree. */
static inline int positive_normal(float v) { return isnormal(v) && v > 0; }

/* Per-layer validation messages name the layer so a writer bug is findable. */
#define FAIL(...)                                          \
  do {                                                     \
    set_error(error, error_size, __VA_ARGS__);             \
    return EFFNET_INT8_FORMAT_ERROR;                       \
  } while (0)


/*
 * Layer `index` of the file into e->layers[index], checked against the slots' shapes so far (which it updates), the
 * last pooled depthwise output and the last SE gate's width; raises e's scratch maxima.
 */
effnet_int8_status read_layer(effnet_int8_engine *e, reader_t *r, int32_t index, shape_t *shapes, shape_t *pooled,
                              int32_t *gate_channels, char *error, size_t error_size);

#endif
